"""Index maintenance: compaction, index updates, vector retraining and version cleanup of the `segments` table.

A hearing write only appends its rows and deletes its old ones (``SegmentIndex.replace_hearing``); this job
does the rest, off the hearings' critical path, and repairs a hearing a killed write left doubled: the sensor
starts it when enough has piled up (rows the indexes do not cover yet are searched by a scan, so search slows
as they grow), the daily schedule whatever happened.
"""

from datetime import timedelta

import dagster as dg
from pydantic import Field

from polsearch_assets.core.index.segments import IndexHealth
from polsearch_assets.defs.platform.index import LanceIndex

JOB_NAME = "index_maintenance"
# Due by size: ~40 hearings of new rows, or as many small fragments (each write adds one).
UNINDEXED_ROWS_DUE = 20_000
SMALL_FRAGMENTS_DUE = 64
ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
          dg.DagsterRunStatus.STARTED]  # fmt: skip


class IndexMaintenanceConfig(dg.Config):
    cleanup_older_than_hours: float = Field(
        default=1.0,
        description="Delete the files of table versions older than this. A search or write that began "
        "earlier and still reads its version fails, so keep it above the longest one.",
    )
    retrain_vector_index: bool = Field(
        default=False,
        description="Retrain the vector index on the table as it is now (e.g. after a large backfill "
        "grew the table several-fold); otherwise it is retrained only when it has too many delta segments.",
    )


def health_metadata(health: IndexHealth | None) -> dict[str, dg.MetadataValue]:
    if health is None:
        return {}
    return {
        "rows": dg.MetadataValue.int(health.rows),
        "live_mb": dg.MetadataValue.float(round(health.live_bytes / 1e6, 1)),
        "fragments": dg.MetadataValue.int(health.fragments),
        "small_fragments": dg.MetadataValue.int(health.small_fragments),
        "unindexed_rows": dg.MetadataValue.int(health.unindexed_rows),
        "vector_segments": dg.MetadataValue.int(health.vector_segments or 0),
    }


@dg.op(
    description="Repairs hearings a killed write left doubled, compacts the segments table, folds new rows "
    "into its indexes, builds missing ones, retrains the vector index when fragmented, and deletes old "
    "versions' files."
)
def maintain_segment_index(
    context: dg.OpExecutionContext, config: IndexMaintenanceConfig, lance_index: LanceIndex
) -> dg.Output[int]:
    index = lance_index.open()
    report = index.maintain(timedelta(hours=config.cleanup_older_than_hours), config.retrain_vector_index)
    before, after = report.before, report.after
    if before is None or after is None:
        context.log.info("nothing indexed yet: nothing to maintain")
        return dg.Output(0, metadata={"rows": 0})
    context.log.info(
        f"{after.rows} rows; fragments {before.fragments} -> {after.fragments}, unindexed rows "
        f"{before.unindexed_rows} -> {after.unindexed_rows}, live data {before.live_bytes / 1e6:.0f} -> "
        f"{after.live_bytes / 1e6:.0f} MB; built {', '.join(report.built) or 'nothing'}"
        f"{'; vector index retrained' if report.retrained else ''}"
        f"{f'; older rows of {len(report.repaired)} doubled hearings deleted' if report.repaired else ''}"
        f" ({report.seconds:.1f} s)"
    )
    return dg.Output(
        after.rows,
        metadata={
            **health_metadata(after),
            "fragments_before": before.fragments,
            "unindexed_rows_before": before.unindexed_rows,
            "built": dg.MetadataValue.json(list(report.built)),
            "vector_index_retrained": dg.MetadataValue.bool(report.retrained),
            "repaired_hearings": dg.MetadataValue.json(list(report.repaired)),
            "seconds": dg.MetadataValue.float(round(report.seconds, 1)),
        },
    )


@dg.job(
    name=JOB_NAME,
    description="Keeps the index fast and small: compaction, index updates, vector retraining, old versions deleted.",
    executor_def=dg.in_process_executor,
)
def index_maintenance() -> None:
    maintain_segment_index()


index_maintenance_daily = dg.ScheduleDefinition(
    name="index_maintenance_daily",
    job=index_maintenance,
    cron_schedule="0 4 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Runs index_maintenance daily at 04:00 UTC, whatever the sensor saw (old versions are cleaned).",
)


@dg.sensor(
    job=index_maintenance,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts index_maintenance when the segments table has piled up unindexed rows or small "
    "fragments (reads the table's manifest only), unless a maintenance run is already queued or running.",
)
def index_maintenance_due(context: dg.SensorEvaluationContext, lance_index: LanceIndex) -> dg.SensorResult:
    index = lance_index.open()
    health = index.health()
    reasons = (
        health.maintenance_due(UNINDEXED_ROWS_DUE, SMALL_FRAGMENTS_DUE, index.vector_index_min_rows)
        if health
        else []
    )
    if not reasons:
        return dg.SensorResult(skip_reason="the index needs no maintenance")
    if context.instance.get_runs(dg.RunsFilter(job_name=JOB_NAME, statuses=ACTIVE), limit=1):
        return dg.SensorResult(skip_reason=f"maintenance due ({'; '.join(reasons)}), a run is already active")
    context.log.info(f"index maintenance due: {'; '.join(reasons)}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(tags={"polsearch/maintenance_due": "; ".join(reasons)[:200]})]
    )
