"""raw_audio and vad_chunks: a hearing's source -> normalized WAV -> speech chunks (asset bodies; specs in assets.py)."""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import dagster as dg
import soundfile as sf
from pydantic import Field

from polsearch_assets.core.artifacts import RAW_AUDIO_SOURCE, RAW_AUDIO_WAV, VAD_CHUNKS_JSON, write_vad_chunks
from polsearch_assets.core.audio.media import PermanentMediaError, TransientMediaError
from polsearch_assets.core.catalog import HearingCatalog, HearingEntry, upload_date_to_iso
from polsearch_assets.core.sources.registry import resolve_source
from polsearch_assets.defs.hearing.engines import SpeechDetectorResource
from polsearch_assets.defs.hearing.partitions import hearings_partitions
from polsearch_assets.defs.hearing.resources import MediaFetcher
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource

# Transient network faults: 1, 2, 4 s (+/- jitter), then the step fails. Permanent faults raise
# Failure(allow_retries=False) and skip this; an interrupt is never retried (defs/hearing/retries.py).
NETWORK_RETRY = dg.RetryPolicy(
    max_retries=3, delay=1, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


BAD_SOURCE = "bad source"  # the ``fault`` of a failure that no retry or re-run can fix: the source itself


def bad_source(key: str, error: object) -> dg.Failure:
    """A final failure: the source cannot be a hearing (not audio, gone, out of the duration range)."""
    return dg.Failure(
        description=f"hearing {key}: {error}", allow_retries=False, metadata={"fault": BAD_SOURCE}
    )


class HearingFacts(dg.Config):
    """What a user may say about a hearing; yt-dlp fills what is left unknown for YouTube."""

    title: str | None = None
    channel: str | None = None
    published_date: str | None = Field(default=None, description="YYYY-MM-DD")
    committee: str | None = None


class RawAudioConfig(HearingFacts):
    """Optional: the hearing's source and facts, registered in its catalog entry by the run itself.

    ``polsearch submit`` and the GraphQL API launch a hearing's first run this way; runs from
    the UI, sensors and backfills need none of it, the catalog entry already says everything.
    """

    source: str | None = Field(
        default=None, description="YouTube URL, media URL or local path of the hearing."
    )


HOW_HEARINGS_ARE_ADDED = (
    "hearings are added with their source: polsearch ingest SOURCE, polsearch submit URL, the register_hearings "
    "job, or the youtube_uploads sensor (not with the UI's 'Add a partition', which records a key without a source)"
)


def _unregistered(context: dg.AssetExecutionContext, key: str) -> dg.Failure:
    """A hearing key with no catalog entry (added in the UI's Materialize dialog, or by hand): nothing can be
    fetched for it. A key that was never materialized is removed as well, so it leaves no failed partition on
    every asset of the graph (Dagster marks every asset planned in a failed run failed) and no "missing"
    hearing for backfills to retry."""
    instance = context.instance
    raw_audio_key = dg.AssetKey("raw_audio")
    history = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=raw_audio_key, asset_partitions=[key]), limit=1
    ).records
    removed = not history and instance.has_dynamic_partition(hearings_partitions.name, key)
    if removed:
        instance.delete_dynamic_partition(hearings_partitions.name, key)
    return dg.Failure(
        description=f"hearing {key}: not registered, so it has no source to fetch"
        + ("; the key was removed" if removed else "")
        + f". {HOW_HEARINGS_ARE_ADDED}",
        allow_retries=False,
    )


def _catalog_entry(
    context: dg.AssetExecutionContext, key: str, catalog: HearingCatalog, config: RawAudioConfig
) -> HearingEntry:
    if not config.source:
        entry = catalog.get(key)
        if entry is None:
            raise _unregistered(context, key)
        return entry
    try:
        resolved = resolve_source(config.source)
        if resolved.key != key:
            raise ValueError(f"source {config.source!r} is hearing {resolved.key}, not this partition")
        return catalog.register(resolved, **config.model_dump(exclude={"source"}))[0]
    except (ValueError, OSError) as error:
        raise bad_source(key, error) from error


def raw_audio(
    context: dg.AssetExecutionContext,
    config: RawAudioConfig,
    artifact_store: ArtifactStoreResource,
    media_fetcher: MediaFetcher,
) -> dg.MaterializeResult:
    key = context.partition_key
    catalog = HearingCatalog(artifact_store)
    entry = _catalog_entry(context, key, catalog, config)
    context.log.info(f"hearing {key}: fetching {entry.source_kind} source {entry.location}")
    try:
        with artifact_store.writer(key, RAW_AUDIO_WAV) as wav_path:
            normalized = media_fetcher.fetch_normalized(
                entry.source_kind, entry.location, wav_path, context.log
            )
            info = sf.info(str(wav_path))
            if info.frames == 0:
                raise PermanentMediaError("the source decodes to no audio samples")
            duration_ms = info.frames * 1000 // info.samplerate  # floor, as vad_chunks counts it
            media_fetcher.check_duration(info.frames / info.samplerate)
    except PermanentMediaError as error:
        raise bad_source(key, error) from error
    except TransientMediaError as error:
        raise dg.Failure(description=f"hearing {key}: {error} (transient)", allow_retries=True) from error

    fetched = normalized.fetched
    known = entry.with_known(
        title=fetched.title, channel=fetched.channel, published_date=upload_date_to_iso(fetched.upload_date)
    )
    if known != entry:
        entry = known
        catalog.put(entry)
    source_metadata = {
        "hearing": key,
        "source": entry.source,
        "source_kind": entry.source_kind,
        "location": entry.location,
        "title": entry.title,
        "channel": entry.channel,
        "published_date": entry.published_date,
        "committee": entry.committee,
        "duration_ms": duration_ms,
        "original_sample_rate": normalized.original.sample_rate,
        "original_channels": normalized.original.channels,
        "original_codec": normalized.original.codec,
        "original_container": normalized.original.container,
        "extractor": fetched.extractor,
    }
    artifact_store.write_json(key, RAW_AUDIO_SOURCE, source_metadata)
    context.log.info(f"hearing {key}: {duration_ms / 60_000:.1f} min of audio ready")
    return dg.MaterializeResult(
        metadata={
            "duration_ms": dg.MetadataValue.int(duration_ms),
            "duration_s": dg.MetadataValue.float(duration_ms / 1000),
            "original_sample_rate": normalized.original.sample_rate,
            "original_channels": normalized.original.channels,
            "original_codec": normalized.original.codec,
            "source": entry.source,
            "source_kind": entry.source_kind,
            "title": entry.title or "",
            "channel": entry.channel or "",
            "published_date": entry.published_date or "",
            "size_bytes": dg.MetadataValue.int(artifact_store.size(key, RAW_AUDIO_WAV)),
            "uri": dg.MetadataValue.path(artifact_store.uri(key, RAW_AUDIO_WAV)),
        }
    )


@contextmanager
def raw_wav(store: ArtifactStoreResource, key: str) -> Iterator[Path]:
    """The hearing's normalized WAV; a clear, final failure when it is gone (pruned by audio retention).

    Only opening the WAV is translated: a FileNotFoundError from the caller's own work inside the
    ``with`` block is a different fault and propagates as it is.
    """
    with ExitStack() as stack:
        try:
            path = stack.enter_context(store.reader(key, RAW_AUDIO_WAV))
        except FileNotFoundError as error:
            raise dg.Failure(
                description=f"hearing {key}: {RAW_AUDIO_WAV} is missing ({error}); the audio_retention job removes "
                "it from indexed hearings: re-materialize raw_audio to fetch the recording again",
                allow_retries=False,
            ) from error
        yield path


def vad_chunks(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource, vad: SpeechDetectorResource
) -> dg.MaterializeResult:
    key = context.partition_key
    with raw_wav(artifact_store, key) as wav_path:
        try:
            result, frames = vad.engine.detect_with_frames(wav_path)
        except (sf.LibsndfileError, ValueError) as error:
            raise dg.Failure(
                description=f"hearing {key}: raw_audio is not a readable 16 kHz WAV: {error}"
            ) from error
    speech_ms = result.speech_ms
    write_vad_chunks(artifact_store, key, result, frames, vad.engine.frames_identity)
    lengths = [c.duration_ms / 1000 for c in result.chunks]
    audio_s = result.duration_ms / 1000
    if not result.chunks:
        context.log.warning(f"hearing {key}: no speech detected in {audio_s:.1f} s of audio; zero chunks")
    context.log.info(
        f"hearing {key}: {len(result.chunks)} chunks, {speech_ms / 1000:.1f} s of speech in {audio_s:.1f} s"
    )
    return dg.MaterializeResult(
        metadata={
            "chunk_count": dg.MetadataValue.int(len(result.chunks)),
            "speech_found": dg.MetadataValue.bool(bool(result.chunks)),
            "speech_s": dg.MetadataValue.float(round(speech_ms / 1000, 3)),
            "speech_ratio": dg.MetadataValue.float(round(speech_ms / max(result.duration_ms, 1), 4)),
            "chunk_s_min": dg.MetadataValue.float(round(min(lengths, default=0.0), 3)),
            "chunk_s_max": dg.MetadataValue.float(round(max(lengths, default=0.0), 3)),
            "chunk_s_mean": dg.MetadataValue.float(round(sum(lengths) / len(lengths), 3) if lengths else 0.0),
            "model": vad.model_identity,
            "uri": dg.MetadataValue.path(artifact_store.uri(key, VAD_CHUNKS_JSON)),
        }
    )
