"""Sensors: new uploads become hearings; finished hearing runs become signed webhook events."""

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from dagster._core.events import DagsterEventType
from dagster._core.storage.tags import PARTITION_NAME_TAG

from polsearch_assets.catalog import HearingCatalog
from polsearch_assets.errors import readable_error
from polsearch_assets.hearing_keys import SourceKind, resolve_source
from polsearch_assets.jobs import HEARING_ASSETS, hearing_pipeline
from polsearch_assets.partitions import hearings_partitions
from polsearch_assets.resources.artifacts import ArtifactStore
from polsearch_assets.resources.notify import WebhookNotifier
from polsearch_assets.resources.watch import UploadsWatch
from polsearch_assets.settings import env_list, uploads_configured, uploads_interval_s
from polsearch_assets.uploads import ChannelPoll, dump_cursor, load_cursor, poll_summary
from polsearch_assets.webhooks import HearingEvent, event_counts

UPLOADS_SENSOR = "youtube_uploads"
# The sensor materializes this external asset on every tick that read a feed: its freshness is the sensor's pulse.
youtube_uploads_feed = dg.AssetSpec(
    "youtube_uploads",
    group_name="automation",
    kinds={"youtube"},
    description="The watched channels' and playlists' upload feeds, as last read by the youtube_uploads sensor. "
    "Every tick that reads at least one feed records a materialization listing what it found.",
    # Three missed ticks; Dagster's freshness windows are at least a minute.
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(seconds=max(60, 3 * uploads_interval_s()))
    ),
)
_HEARING_ASSET_NAMES = {a.key.to_user_string() for a in HEARING_ASSETS}


def _has_run(instance: dg.DagsterInstance, key: str) -> bool:
    return bool(instance.get_run_ids(dg.RunsFilter(tags={PARTITION_NAME_TAG: key}), limit=1))


def _hearing_requests(
    context: dg.SensorEvaluationContext, store: ArtifactStore, polls: list[ChannelPoll]
) -> tuple[list[str], list[dg.RunRequest]]:
    """Catalog entries for accepted uploads; the partitions to add and the runs to request."""
    catalog = HearingCatalog(store)
    known = set(context.instance.get_dynamic_partitions(hearings_partitions.name))
    new_keys: list[str] = []
    runs: dict[str, dg.RunRequest] = {}
    for poll in polls:
        for upload in poll.accepted:
            try:
                resolved = resolve_source(upload.entry.url)
                if resolved.kind is SourceKind.FILE:
                    raise ValueError("a feed may only point to http(s) URLs")
            except (ValueError, OSError) as error:
                context.log.warning(f"{poll.channel.name}: {upload.entry.url} cannot be a hearing: {error}")
                continue
            entry, _ = catalog.register(
                resolved,
                title=upload.entry.title,
                channel=upload.entry.author,
                published_date=upload.entry.published_date,
                committee=upload.channel.committee,
            )
            if entry.key not in known:
                known.add(entry.key)
                new_keys.append(entry.key)
            if entry.key not in runs and not _has_run(context.instance, entry.key):
                runs[entry.key] = dg.RunRequest(
                    partition_key=entry.key,
                    run_key=f"{UPLOADS_SENSOR}:{entry.key}",
                    tags={"polsearch/trigger": UPLOADS_SENSOR, "polsearch/channel": poll.channel.name},
                )
            context.log.info(f"{poll.channel.name}: {entry.key} {entry.title!r} registered")
    return new_keys, list(runs.values())


def _log_polls(log: Any, polls: list[ChannelPoll]) -> None:
    for poll in polls:
        name = poll.channel.name
        if poll.error:
            log.error(f"{name}: {poll.error} ({poll.state.failures} failed poll(s) in a row)")
            continue
        if poll.not_modified:
            log.info(f"{name}: feed unchanged")
            continue
        log.info(
            f"{name}: {len(poll.accepted)} new, {len(poll.skipped)} skipped, {len(poll.deferred)} deferred"
        )
        for decision in poll.skipped + poll.deferred:
            log.info(f"{name}: {decision.entry.title!r} ({decision.entry.url}): {decision.reason}")


@dg.sensor(
    name=UPLOADS_SENSOR,
    job=hearing_pipeline,
    minimum_interval_seconds=uploads_interval_s(),
    default_status=dg.DefaultSensorStatus.RUNNING if uploads_configured() else dg.DefaultSensorStatus.STOPPED,
    description="Polls the watched YouTube channels and playlists (POLSEARCH_CHANNELS_FILE / POLSEARCH_CHANNELS); "
    "every new upload that passes the filters becomes a hearing (catalog entry + partition) with one run.",
)
def youtube_uploads(
    context: dg.SensorEvaluationContext, uploads_watch: UploadsWatch, artifact_store: ArtifactStore
) -> dg.SensorResult | dg.SkipReason:
    channels = uploads_watch.watchlist()
    if not channels:
        return dg.SkipReason("no channels to watch: set POLSEARCH_CHANNELS_FILE or POLSEARCH_CHANNELS")
    polls = uploads_watch.poll(channels, load_cursor(context.cursor), context.log)
    _log_polls(context.log, polls)
    new_keys, runs = _hearing_requests(context, artifact_store, polls)
    heartbeat = []
    if any(p.error is None for p in polls):
        heartbeat.append(
            dg.AssetMaterialization(
                asset_key=youtube_uploads_feed.key,
                metadata={
                    "channels": len(polls),
                    "channels_failing": sum(p.error is not None for p in polls),
                    "new_hearings": dg.MetadataValue.json(new_keys),
                    "runs_requested": len(runs),
                    "per_channel": dg.MetadataValue.json(poll_summary(polls)),
                },
            )
        )
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[hearings_partitions.build_add_request(new_keys)] if new_keys else [],
        asset_events=heartbeat,
        cursor=dump_cursor({p.channel.name: p.state for p in polls}),
    )


# --- notifications ------------------------------------------------------------------------------


def _run_metadata(instance: dg.DagsterInstance, run_id: str) -> dict[str, dict[str, Any]]:
    """asset name -> metadata values of what the run materialized."""
    found: dict[str, dict[str, Any]] = {}
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
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
        for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
        if record.dagster_event and record.dagster_event.asset_key
    }


def _run_error(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """What went wrong in a run: failed ERROR checks (they name the hearing and the cause), else the first step error."""
    failed_checks = []
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = record.dagster_event.asset_check_evaluation_data if record.dagster_event else None
        if evaluation and not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            failed_checks.append(
                f"check {evaluation.asset_key.to_user_string()}/{evaluation.check_name}: {evaluation.description}"
            )
    if failed_checks:
        return "; ".join(failed_checks)
    for record in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        event = record.dagster_event
        error = event.event_specific_data.error if event and event.event_specific_data else None
        if error is not None:
            return f"{event.step_key}: {readable_error(error.message)}"
    return None


def hearing_event(
    instance: dg.DagsterInstance,
    store: ArtifactStore,
    run: dg.DagsterRun,
    event_type: str,
    run_error: str | None,
) -> HearingEvent | None:
    """The webhook event for a finished run of a hearing, or None when the run is not about one."""
    key = run.tags.get(PARTITION_NAME_TAG)
    if not key or not _planned_assets(instance, run.run_id) & _HEARING_ASSET_NAMES:
        return None
    metadata = _run_metadata(instance, run.run_id)
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


_NOTIFY_STATUS = (
    dg.DefaultSensorStatus.RUNNING if env_list("POLSEARCH_WEBHOOK_URLS") else dg.DefaultSensorStatus.STOPPED
)


def _notify(
    context: dg.RunStatusSensorContext,
    webhooks: WebhookNotifier,
    store: ArtifactStore,
    event_type: str,
    run_error: str | None,
) -> dg.SkipReason | None:
    if not webhooks.enabled:
        return dg.SkipReason("no webhooks configured (POLSEARCH_WEBHOOK_URLS)")
    event = hearing_event(context.instance, store, context.dagster_run, event_type, run_error)
    if event is None:
        return dg.SkipReason(f"run {context.dagster_run.run_id} is not a {event_type} of a hearing")
    webhooks.send(event, context.log)
    return None


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="notify_hearing_indexed",
    default_status=_NOTIFY_STATUS,
    minimum_interval_seconds=30,
    description="POSTs a signed hearing.indexed event to POLSEARCH_WEBHOOK_URLS when a run indexes a hearing.",
)
def notify_hearing_indexed(
    context: dg.RunStatusSensorContext, webhooks: WebhookNotifier, artifact_store: ArtifactStore
) -> dg.SkipReason | None:
    return _notify(context, webhooks, artifact_store, "hearing.indexed", None)


@dg.run_failure_sensor(
    name="notify_hearing_failed",
    default_status=_NOTIFY_STATUS,
    minimum_interval_seconds=30,
    description="POSTs a signed hearing.failed event, with the failing step's error, to POLSEARCH_WEBHOOK_URLS.",
)
def notify_hearing_failed(
    context: dg.RunFailureSensorContext, webhooks: WebhookNotifier, artifact_store: ArtifactStore
) -> dg.SkipReason | None:
    return _notify(context, webhooks, artifact_store, "hearing.failed", context.failure_event.message)
