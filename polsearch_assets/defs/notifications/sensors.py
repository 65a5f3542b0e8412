"""Run-status sensors: finished hearing runs become signed webhook events.

They watch every run of the instance, including the in-process runs of ``polsearch ingest``
(which belong to no code location), so a deployment's daemon notifies those too; with no
daemon running on the instance, nothing sends webhooks.
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from polsearch_assets.config import Settings
from polsearch_assets.core.catalog import HearingCatalog
from polsearch_assets.core.contracts import HEARING_ASSETS
from polsearch_assets.core.errors import cause_messages, step_error
from polsearch_assets.core.notify.webhooks import HearingEvent, event_counts
from polsearch_assets.defs.hearing.partitions import PARTITION_TAG
from polsearch_assets.defs.notifications.resources import WebhookNotifier
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource


def _run_metadata(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict[str, Any]]:
    """asset name -> metadata values of what the run materialized."""
    found: dict[str, dict[str, Any]] = {}
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = record.asset_materialization
        if materialization is not None:
            found[materialization.asset_key.to_user_string()] = {
                name: value.value for name, value in materialization.metadata.items()
            }
    return found


def _planned_assets(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    """The assets a run set out to materialize, whatever job launched it (pipeline, automation, backfill, UI)."""
    return {
        record.dagster_event.asset_key.to_user_string()
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        if record.dagster_event and record.dagster_event.asset_key
    }


def _run_error(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """What went wrong in a run: failed ERROR checks (they name the hearing and the cause), else the first step error."""
    failed_checks = []
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.asset_check_evaluation_data if record.dagster_event else None
        if evaluation and not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            failed_checks.append(
                f"check {evaluation.asset_key.to_user_string()}/{evaluation.check_name}: {evaluation.description}"
            )
    if failed_checks:
        return "; ".join(failed_checks)
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        error = event.event_specific_data.error if event and event.event_specific_data else None
        if error is not None:
            return f"{event.step_key}: {step_error(error.message, cause_messages(error))}"
    return None


def hearing_event(
    instance: dg.DagsterInstance,
    store: ArtifactStoreResource,
    run: dg.DagsterRun,
    event_type: str,
    run_error: str | None,
) -> HearingEvent | None:
    """The webhook event for a finished run of a hearing, or None when the run is not about one."""
    key = run.tags.get(PARTITION_TAG)
    if not key or not _planned_assets(instance, run.run_id) & set(HEARING_ASSETS):
        return None
    metadata = _run_metadata(instance, run.run_id)
    if event_type == "hearing.indexed" and metadata.get("hearing_index", {}).get("written", True) is False:
        return None  # a speaker-names refresh that left the hearing's rows as they were
    if event_type == "hearing.indexed" and "hearing_index" not in metadata:
        return None  # a successful run that did not (re)build the hearing's index rows
    entry = HearingCatalog(store).get(key)
    return HearingEvent(
        type=event_type,
        hearing=key,
        title=entry.title if entry else None,
        run_id=run.run_id,
        occurred_at=datetime.now(UTC).isoformat(timespec="seconds"),
        counts=event_counts(metadata),
        error=(_run_error(instance, run.run_id) or run_error) if event_type == "hearing.failed" else None,
    )


def _notify(
    context: dg.RunStatusSensorContext,
    webhooks: WebhookNotifier,
    store: ArtifactStoreResource,
    event_type: str,
    run_error: str | None,
) -> None:
    # Never a SkipReason: a tick that handles several runs may not mix one with the runs it acted on.
    if not webhooks.enabled:
        context.log.debug("no webhooks configured (POLSEARCH_WEBHOOK_URLS)")
        return
    event = hearing_event(context.instance, store, context.dagster_run, event_type, run_error)
    if event is None:
        context.log.debug(f"run {context.dagster_run.run_id} is not a {event_type} of a hearing")
        return
    webhooks.send(event, context.log)


def notify_hearing_indexed(
    context: dg.RunStatusSensorContext, webhooks: WebhookNotifier, artifact_store: ArtifactStoreResource
) -> None:
    _notify(context, webhooks, artifact_store, "hearing.indexed", None)


def notify_hearing_failed(
    context: dg.RunFailureSensorContext, webhooks: WebhookNotifier, artifact_store: ArtifactStoreResource
) -> None:
    _notify(context, webhooks, artifact_store, "hearing.failed", context.failure_event.message)


def notification_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    """On by default when webhook URLs are configured."""
    status = dg.DefaultSensorStatus.RUNNING if settings.webhook_url_list() else dg.DefaultSensorStatus.STOPPED
    return [
        dg.run_status_sensor(
            run_status=dg.DagsterRunStatus.SUCCESS,
            name="notify_hearing_indexed",
            default_status=status,
            monitor_all_code_locations=True,  # also runs with no code location: `polsearch ingest` on this instance
            minimum_interval_seconds=30,
            description="POSTs a signed hearing.indexed event to POLSEARCH_WEBHOOK_URLS when a run indexes a hearing.",
        )(notify_hearing_indexed),
        dg.run_failure_sensor(
            name="notify_hearing_failed",
            default_status=status,
            monitor_all_code_locations=True,
            minimum_interval_seconds=30,
            description="POSTs a signed hearing.failed event, with the failing step's error, to "
            "POLSEARCH_WEBHOOK_URLS.",
        )(notify_hearing_failed),
    ]
