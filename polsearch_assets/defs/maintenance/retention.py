"""Maintenance jobs: audio retention for indexed hearings."""

from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from polsearch_assets.config import Settings
from polsearch_assets.core.retention import artifacts_to_prune
from polsearch_assets.defs.hearing.partitions import ACTIVE_RUN_STATUSES, PARTITION_TAG, hearings_partitions
from polsearch_assets.defs.hearing.runs import in_process_owned
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource

DEFAULT_RETENTION_DAYS = 30.0


class AudioRetentionConfig(dg.Config):
    older_than_days: float = Field(
        default=DEFAULT_RETENTION_DAYS,
        description="Delete intermediate audio written more than this many days ago (the daily schedule uses "
        "POLSEARCH_AUDIO_RETENTION_DAYS).",
    )
    dry_run: bool = Field(default=False, description="Report what would be deleted, delete nothing.")


def _indexed_and_idle(instance: dg.DagsterInstance, keys: list[str]) -> list[str]:
    """Hearings whose index is complete (latest hearing_index attempt succeeded) and that no run is working on."""
    statuses = instance.get_status_by_partition(dg.AssetKey("hearing_index"), keys, hearings_partitions) or {}
    busy = {
        run.tags.get(PARTITION_TAG) for run in instance.get_runs(dg.RunsFilter(statuses=ACTIVE_RUN_STATUSES))
    }
    return [k for k in keys if statuses.get(k) == dg.AssetPartitionStatus.MATERIALIZED and k not in busy]


@dg.op(
    description="Deletes the normalized WAV of indexed hearings older than the retention period; "
    "keeps transcripts, diarization, aligned segments and the word archive."
)
def prune_intermediate_audio(
    context: dg.OpExecutionContext, config: AudioRetentionConfig, artifact_store: ArtifactStoreResource
) -> dg.Output[int]:
    cutoff = datetime.now(UTC) - timedelta(days=config.older_than_days)
    keys = context.instance.get_dynamic_partitions(hearings_partitions.name)
    eligible = _indexed_and_idle(context.instance, keys)
    freed = files = hearings = 0
    for key in eligible:
        doomed = artifacts_to_prune(artifact_store.list_artifacts(key), cutoff)
        if not doomed:
            continue
        size = sum(a.size_bytes for a in doomed)
        names = [a.name for a in doomed]
        verb = "would delete" if config.dry_run else "deleted"
        if not config.dry_run:
            for artifact in doomed:
                artifact_store.delete(key, artifact.name)
            context.log_event(
                dg.AssetObservation(
                    asset_key=dg.AssetKey("raw_audio"),
                    partition=key,
                    metadata={"pruned": dg.MetadataValue.json(names), "freed_bytes": size},
                    description="intermediate audio removed by the retention job; re-materialize raw_audio to fetch it again",
                )
            )
        context.log.info(f"hearing {key}: {verb} {', '.join(names)} ({size / 2**20:.1f} MiB)")
        freed, files, hearings = freed + size, files + len(doomed), hearings + 1
    context.log.info(
        f"{'dry run: ' if config.dry_run else ''}{hearings} of {len(keys)} hearings pruned, {files} files, "
        f"{freed / 2**20:.1f} MiB freed (cutoff {cutoff:%Y-%m-%d %H:%M} UTC; {len(eligible)} indexed and idle)"
    )
    return dg.Output(
        freed,
        metadata={
            "freed_bytes": freed,
            "freed_mib": round(freed / 2**20, 1),
            "files_deleted": 0 if config.dry_run else files,
            "hearings_pruned": hearings,
            "hearings_eligible": len(eligible),
            "dry_run": config.dry_run,
            "cutoff": cutoff.isoformat(timespec="seconds"),
        },
    )


@dg.job(
    description="Frees disk: intermediate audio of indexed hearings past the retention period.",
    executor_def=in_process_owned,
)
def audio_retention() -> None:
    prune_intermediate_audio()


def audio_retention_schedule(settings: Settings) -> dg.ScheduleDefinition:
    """Daily; on by default when POLSEARCH_AUDIO_RETENTION_DAYS is set, and then with that age."""
    days = settings.audio_retention_days
    return dg.ScheduleDefinition(
        name="audio_retention_daily",
        job=audio_retention,
        cron_schedule="30 3 * * *",
        run_config={"ops": {"prune_intermediate_audio": {"config": {"older_than_days": days}}}}
        if days is not None
        else None,
        default_status=dg.DefaultScheduleStatus.RUNNING
        if days is not None
        else dg.DefaultScheduleStatus.STOPPED,
        description="Runs audio_retention daily at 03:30 UTC (on by default when POLSEARCH_AUDIO_RETENTION_DAYS is set).",
    )
