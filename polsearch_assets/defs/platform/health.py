"""Pipeline health: is the uploads sensor alive, and do registered hearings get indexed in time?

Both are checks on the ``youtube_uploads`` asset, run every 15 minutes by the
``pipeline_health`` schedule and on demand from the UI.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from polsearch_assets.config import FromSettings, Settings, setting
from polsearch_assets.core.audio.media import human_duration
from polsearch_assets.core.catalog import HearingCatalog
from polsearch_assets.defs.hearing.partitions import hearings_partitions
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource
from polsearch_assets.defs.uploads.sensors import UPLOADS_FEED, UPLOADS_SENSOR

MAX_LISTED = 10


class HealthPolicy(FromSettings, dg.ConfigurableResource):
    """What the health checks expect of the pipeline."""

    uploads_configured: bool = Field(description="Whether channels are watched at all.")
    uploads_interval_s: int = setting("uploads_interval_s")
    index_lag_hours: float = setting("index_lag_hours")


def _sensor_running(instance: dg.DagsterInstance) -> bool | None:
    """Whether the uploads sensor is running; None when the instance has no state for it (never toggled)."""
    states = [
        state
        for state in instance.all_instigator_state()
        if state.name == UPLOADS_SENSOR and state.instigator_type.value == "SENSOR"
    ]
    return states[0].is_running if states else None


@dg.asset_check(
    asset=UPLOADS_FEED,
    name="sensor_alive",
    description="The youtube_uploads sensor is running and read a feed within the last three intervals; "
    "warns while some channels keep failing.",
)
def uploads_sensor_alive(context: dg.AssetCheckExecutionContext, health: HealthPolicy) -> dg.AssetCheckResult:
    if not health.uploads_configured:
        return dg.AssetCheckResult(
            passed=True, description="no channels configured: the uploads sensor is not in use"
        )
    allowed_s = 3 * health.uploads_interval_s
    running = _sensor_running(context.instance)
    heartbeat = context.instance.get_latest_materialization_event(UPLOADS_FEED)
    age_s = datetime.now(UTC).timestamp() - heartbeat.timestamp if heartbeat else None
    metadata = {
        "allowed_silence_min": allowed_s / 60,
        "last_read_min_ago": round(age_s / 60, 1) if age_s else -1,
    }
    if running is False:
        return dg.AssetCheckResult(
            passed=False, description=f"the {UPLOADS_SENSOR} sensor is stopped", metadata=metadata
        )
    if age_s is None or age_s > allowed_s:
        when = "never" if age_s is None else f"{human_duration(age_s)} ago"
        return dg.AssetCheckResult(
            passed=False,
            description=f"the {UPLOADS_SENSOR} sensor last read a feed {when} (allowed: {human_duration(allowed_s)}); "
            "is the dagster-daemon running, and are the feeds reachable?",
            metadata=metadata,
        )
    materialization = heartbeat.asset_materialization if heartbeat else None
    per_channel = materialization.metadata["per_channel"].value if materialization else {}
    failing = sorted(name for name, info in per_channel.items() if not info.get("ok", True))
    return dg.AssetCheckResult(
        passed=not failing,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"alive, last read {human_duration(age_s)} ago"
        + (f"; channels failing: {', '.join(failing)}" if failing else ""),
        metadata={**metadata, "channels_failing": len(failing)},
    )


@dg.asset_check(
    asset=UPLOADS_FEED,
    name="hearings_indexed_in_time",
    description="Every hearing registered more than POLSEARCH_INDEX_LAG_HOURS ago has been indexed.",
)
def hearings_indexed_in_time(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource, health: HealthPolicy
) -> dg.AssetCheckResult:
    instance = context.instance
    window = timedelta(hours=health.index_lag_hours)
    keys = instance.get_dynamic_partitions(hearings_partitions.name)
    statuses = instance.get_status_by_partition(dg.AssetKey("hearing_index"), keys, hearings_partitions) or {}
    cutoff = datetime.now(UTC) - window
    catalog = HearingCatalog(artifact_store)
    late = []
    for key in keys:
        status = statuses.get(key)
        if status == dg.AssetPartitionStatus.MATERIALIZED:
            continue
        entry = catalog.get(key)
        registered = datetime.fromisoformat(entry.registered_at) if entry and entry.registered_at else None
        if registered is None or registered < cutoff:
            late.append(f"{key} ({status.value.lower() if status else 'missing'})")
    hours = window.total_seconds() / 3600
    return dg.AssetCheckResult(
        passed=not late,
        description=(
            f"{len(late)} hearing(s) registered over {hours:g} h ago are not indexed: {', '.join(late[:MAX_LISTED])}"
            + (" ..." if len(late) > MAX_LISTED else "")
            if late
            else f"all {len(keys)} hearings registered over {hours:g} h ago are indexed"
        ),
        metadata={"hearings": len(keys), "late": len(late)},
    )


HEALTH_CHECKS = [uploads_sensor_alive, hearings_indexed_in_time]

pipeline_health = dg.define_asset_job(
    "pipeline_health",
    selection=dg.AssetSelection.checks(*HEALTH_CHECKS),
    description="Runs the pipeline health checks on youtube_uploads.",
)


def pipeline_health_schedule(settings: Settings) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="pipeline_health_every_15_min",
        job=pipeline_health,
        cron_schedule="*/15 * * * *",
        default_status=dg.DefaultScheduleStatus.RUNNING
        if settings.uploads_configured()
        else dg.DefaultScheduleStatus.STOPPED,
    )
