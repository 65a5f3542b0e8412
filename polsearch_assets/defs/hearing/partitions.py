import dagster as dg

# One partition per hearing; keys come from polsearch_assets.core.keys (yt-<id>, url-<hash>, file-<hash>).
hearings_partitions = dg.DynamicPartitionsDefinition(name="hearings")

# The run tag that names a run's partition (Dagster's own), and the states of a run still at work.
PARTITION_TAG = "dagster/partition"
ACTIVE_RUN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
