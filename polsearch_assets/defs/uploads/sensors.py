"""The uploads sensor: new uploads on watched channels become hearings, each with one run."""

from datetime import timedelta
from typing import Any

import dagster as dg

from polsearch_assets.config import Settings
from polsearch_assets.core.catalog import HearingCatalog
from polsearch_assets.core.sources.registry import SOURCES, resolve_source
from polsearch_assets.core.uploads.polling import ChannelPoll, dump_cursor, load_cursor, poll_summary
from polsearch_assets.defs.hearing.partitions import PARTITION_TAG, hearings_partitions
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource
from polsearch_assets.defs.uploads.resources import UploadsWatch

UPLOADS_SENSOR = "youtube_uploads"
UPLOADS_FEED = dg.AssetKey("youtube_uploads")


def youtube_uploads_feed(settings: Settings) -> dg.AssetSpec:
    """The sensor materializes this external asset on every tick that read a feed: its freshness is the
    sensor's pulse (three missed ticks; Dagster's freshness windows are at least a minute)."""
    return dg.AssetSpec(
        UPLOADS_FEED,
        group_name="automation",
        kinds={"youtube"},
        description="The watched channels' and playlists' upload feeds, as last read by the youtube_uploads "
        "sensor. Every tick that reads at least one feed records a materialization listing what it found.",
        freshness_policy=dg.FreshnessPolicy.time_window(
            fail_window=timedelta(seconds=max(60, 3 * settings.uploads_interval_s))
        ),
    )


def _has_run(instance: dg.DagsterInstance, key: str) -> bool:
    return bool(instance.get_run_ids(dg.RunsFilter(tags={PARTITION_TAG: key}), limit=1))


def _hearing_requests(
    context: dg.SensorEvaluationContext, store: ArtifactStoreResource, polls: list[ChannelPoll]
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
                if SOURCES[resolved.kind].local:
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


def youtube_uploads(
    context: dg.SensorEvaluationContext, uploads_watch: UploadsWatch, artifact_store: ArtifactStoreResource
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
                asset_key=UPLOADS_FEED,
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


def uploads_sensor(settings: Settings) -> dg.SensorDefinition:
    return dg.sensor(
        name=UPLOADS_SENSOR,
        job_name="hearing_pipeline",
        minimum_interval_seconds=settings.uploads_interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING
        if settings.uploads_configured()
        else dg.DefaultSensorStatus.STOPPED,
        description="Polls the watched YouTube channels and playlists (POLSEARCH_CHANNELS_FILE / POLSEARCH_CHANNELS); "
        "every new upload that passes the filters becomes a hearing (catalog entry + partition) with one run.",
    )(youtube_uploads)
