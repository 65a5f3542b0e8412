"""The model stages of a hearing: transcript, diarization, aligned_segments, hearing_index, word_archive."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from polsearch_assets.alignment import assign_speakers, assign_speakers_by_frames, segment_words
from polsearch_assets.assets.audio import VAD_CHUNKS_JSON, raw_wav, vad_chunks
from polsearch_assets.assets.step_clock import StepClock
from polsearch_assets.automation import follow_upstream
from polsearch_assets.catalog import HearingCatalog
from polsearch_assets.contracts import Diarization, SpeakerFrames, segments_from_json, segments_to_json
from polsearch_assets.partitions import hearings_partitions
from polsearch_assets.placement import step_pool, step_tags
from polsearch_assets.resources.artifacts import ArtifactStore
from polsearch_assets.resources.backends import WORD_SPEAKER_RULES, configured_backends
from polsearch_assets.resources.index import LanceIndex
from polsearch_assets.resources.models import Diarizer, TextEmbedder, Transcriber
from polsearch_assets.search_index import HearingInfo, build_rows
from polsearch_assets.settings import index_freshness_hours
from polsearch_assets.vad import SpeechRegion

TRANSCRIPT_JSON = "transcript.json"
DIARIZATION_JSON = "diarization.json"
DIARIZATION_FRAMES = "diarization_frames.npz"
ALIGNED_SEGMENTS_JSON = "aligned_segments.json"
WORD_ARCHIVE_PARQUET = "word_archive.parquet"

_backends = configured_backends()

# A LanceDB commit can conflict with another hearing's concurrent write, or object storage can hiccup:
# retry the step (the write is idempotent: it replaces this hearing's rows) before failing it.
INDEX_WRITE_RETRY = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


@contextmanager
def _vad_input(store: ArtifactStore, key: str) -> Iterator[tuple[Any, dict[str, Any]]]:
    """The hearing's WAV path and its vad_chunks document."""
    chunks = store.read_json(key, VAD_CHUNKS_JSON)
    with raw_wav(store, key) as wav_path:
        yield wav_path, chunks


@dg.asset(
    partitions_def=hearings_partitions,
    group_name="models",
    automation_condition=follow_upstream(),
    deps=[vad_chunks],
    kinds={"asr"},
    code_version=f"transcript-v1:{_backends.transcriber.model_identity}",
    description="Words with start/end ms (global timeline) and confidence, per VAD chunk, grouped in ASR segments.",
    op_tags=step_tags("transcript"),
    pool=step_pool("transcript"),
)
def transcript(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStore, transcriber: Transcriber
) -> dg.MaterializeResult:
    key = context.partition_key
    with _vad_input(artifact_store, key) as (wav_path, vad):
        clock = StepClock()
        segments = transcriber.transcribe(wav_path, vad["chunks"], context.log)
    artifact_store.write_json(
        key,
        TRANSCRIPT_JSON,
        {"hearing": key, "model": transcriber.model_identity, **segments_to_json(segments)},
    )
    words = [w for s in segments for w in s.words]
    confidences = [w.confidence for w in words if w.confidence is not None]
    context.log.info(f"hearing {key}: {len(words)} words in {len(segments)} segments")
    # A model that gives no word confidence (NeMo TDT greedy decoding) says so, rather than a 0.0.
    confidence = (
        {"mean_confidence": dg.MetadataValue.float(round(float(np.mean(confidences)), 4))}
        if confidences
        else {"confidence": "not given by the model"}
    )
    return dg.MaterializeResult(
        metadata={
            "segments": len(segments),
            "words": len(words),
            **confidence,
            "model": transcriber.model_identity,
            "uri": dg.MetadataValue.path(artifact_store.uri(key, TRANSCRIPT_JSON)),
            **clock.metadata(vad["duration_ms"]),
        }
    )


@dg.asset(
    partitions_def=hearings_partitions,
    group_name="models",
    automation_condition=follow_upstream(),
    deps=[vad_chunks],
    kinds={"diarization"},
    code_version=f"diarization-v1:{_backends.diarizer.model_identity}",
    description="Speaker turns on the global timeline with SPEAKER_N labels numbered by first appearance.",
    op_tags=step_tags("diarization"),
    pool=step_pool("diarization"),
)
def diarization(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStore, diarizer: Diarizer
) -> dg.MaterializeResult:
    key = context.partition_key
    with _vad_input(artifact_store, key) as (wav_path, vad):
        clock = StepClock()
        regions = [
            SpeechRegion(r["start_ms"], r["end_ms"]) for chunk in vad["chunks"] for r in chunk["speech"]
        ]
        result = diarizer.diarize(wav_path, regions, context.log)
    write_diarization(artifact_store, key, result, diarizer.model_identity)
    talk = {
        s: sum(t.end_ms - t.start_ms for t in result.turns if t.speaker == s) / 1000 for s in result.speakers
    }
    context.log.info(f"hearing {key}: {len(result.speakers)} speakers, {len(result.turns)} turns")
    return dg.MaterializeResult(
        metadata={
            "speaker_count": len(result.speakers),
            "turns": len(result.turns),
            "speaking_seconds": dg.MetadataValue.json({s: round(v, 1) for s, v in talk.items()}),
            "model": diarizer.model_identity,
            "uri": dg.MetadataValue.path(artifact_store.uri(key, DIARIZATION_JSON)),
            "frame_probabilities": result.frames is not None,
            **result.details,
            **clock.metadata(vad["duration_ms"]),
        }
    )


def write_diarization(store: ArtifactStore, key: str, result: Diarization, model: str) -> None:
    """diarization.json, and beside it the per-frame probabilities when the backend gives them. The
    frames are written first: the document, which says whether there are frames, is the commit point."""
    document = {"hearing": key, "model": model, **result.to_json()}
    if result.frames is not None:
        store.write_bytes(key, DIARIZATION_FRAMES, result.frames.to_npz())
        document["frames"] = {
            "artifact": DIARIZATION_FRAMES,
            "frame_ms": result.frames.frame_ms,
            "count": len(result.frames.probabilities),
        }
    elif store.exists(key, DIARIZATION_FRAMES):
        store.delete(key, DIARIZATION_FRAMES)  # from an earlier backend; never to be read with these turns
    store.write_json(key, DIARIZATION_JSON, document)


def read_frames(store: ArtifactStore, key: str, document: dict[str, Any]) -> SpeakerFrames | None:
    """The per-frame probabilities a diarization document points to, if it has them.

    A step that failed between writing the frames and its document leaves new frames beside the old
    document: refused here, rather than pairing one run's turns with another's probabilities.
    """
    section = document.get("frames")
    if not section:
        return None
    frames = SpeakerFrames.from_npz(store.read_bytes(key, section["artifact"]))
    if list(frames.speakers) != list(document["speakers"]) or len(frames.probabilities) != section["count"]:
        raise ValueError(
            f"hearing {key}: {section['artifact']} ({len(frames.probabilities)} frames, speakers "
            f"{list(frames.speakers)[:6]}) is not the one diarization.json was written with "
            f"({section['count']} frames, speakers {list(document['speakers'])[:6]}); re-materialize diarization"
        )
    return frames


def read_diarization(store: ArtifactStore, key: str) -> Diarization:
    document = store.read_json(key, DIARIZATION_JSON)
    return replace(Diarization.from_json(document), frames=read_frames(store, key, document))


@dg.asset(
    partitions_def=hearings_partitions,
    group_name="models",
    automation_condition=follow_upstream(),
    deps=[transcript, diarization],
    kinds={"python"},
    code_version=f"aligned_segments-v1:{_backends.word_speakers}:pause1.5s:15-30s",
    description=f"{WORD_SPEAKER_RULES[_backends.word_speakers]}; words grouped into segments that break at speaker "
    "changes, pauses over 1.5 s and 15-30 s (at sentence ends when possible).",
    op_tags=step_tags("aligned_segments"),
    pool=step_pool("aligned_segments"),
)
def aligned_segments(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStore
) -> dg.MaterializeResult:
    key = context.partition_key
    words = [w for s in segments_from_json(artifact_store.read_json(key, TRANSCRIPT_JSON)) for w in s.words]
    speakers = read_diarization(artifact_store, key)
    if _backends.word_speakers == "frame-probabilities" and words:  # no speech: no frames, no words
        if speakers.frames is None:
            raise dg.Failure(
                description=f"hearing {key}: POLSEARCH_WORD_SPEAKERS=frame-probabilities, but its diarization "
                "has no per-frame probabilities (made by a backend that gives turns only); re-materialize "
                "diarization with the sortformer backend, or use max-overlap",
            )
        words = assign_speakers_by_frames(words, speakers.frames, speakers.turns)
    else:
        words = assign_speakers(words, speakers.turns)
    segments = segment_words(words)
    artifact_store.write_json(key, ALIGNED_SEGMENTS_JSON, {"hearing": key, **segments_to_json(segments)})
    lengths = [(s.end_ms - s.start_ms) / 1000 for s in segments]
    return dg.MaterializeResult(
        metadata={
            "segments": len(segments),
            "words": len(words),
            "speakers": len({s.speaker for s in segments}),
            "word_speakers": _backends.word_speakers,
            "segment_s_mean": dg.MetadataValue.float(round(float(np.mean(lengths)), 2) if lengths else 0.0),
            "segment_s_max": dg.MetadataValue.float(round(max(lengths, default=0.0), 2)),
            "uri": dg.MetadataValue.path(artifact_store.uri(key, ALIGNED_SEGMENTS_JSON)),
        }
    )


@dg.asset(
    partitions_def=hearings_partitions,
    group_name="index",
    automation_condition=follow_upstream(),
    deps=[aligned_segments],
    kinds={"lancedb"},
    retry_policy=INDEX_WRITE_RETRY,
    freshness_policy=dg.FreshnessPolicy.time_window(
        fail_window=timedelta(hours=index_freshness_hours()),
        warn_window=timedelta(hours=index_freshness_hours() / 2),
    ),
    code_version=f"hearing_index-v1:{_backends.embedder.model_identity}",
    description="Segment embeddings and LanceDB rows for this hearing, replaced in one commit on re-materialization.",
    op_tags=step_tags("hearing_index"),
    pool=step_pool("hearing_index"),
)
def hearing_index(
    context: dg.AssetExecutionContext,
    artifact_store: ArtifactStore,
    embedder: TextEmbedder,
    lance_index: LanceIndex,
) -> dg.MaterializeResult:
    key = context.partition_key
    entry = HearingCatalog(artifact_store).get(key)
    segments = artifact_store.read_json(key, ALIGNED_SEGMENTS_JSON)["segments"]
    clock = StepClock()
    vectors = embedder.embed([s["text"] for s in segments])
    info = HearingInfo(
        key=key,
        title=entry.title if entry else None,
        channel=entry.channel if entry else None,
        committee=entry.committee if entry else None,
        published_date=entry.published_date if entry else None,
        source_url=entry.location if entry else None,
    )
    index = lance_index.open(embedder.dimension)
    index.replace_hearing(key, build_rows(info, segments, vectors))
    rows = index.count(key)
    if rows != len(segments):
        raise dg.Failure(
            description=f"hearing {key}: index holds {rows} rows after the write, expected {len(segments)}"
        )
    if not rows:
        context.log.warning(f"hearing {key}: no speech, so no index rows")
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "indexed": dg.MetadataValue.bool(rows > 0),
            "table_rows": index.count(),
            "embedding_model": embedder.model_identity,
            "dimension": embedder.dimension,
            "lancedb_uri": lance_index.uri,
            **clock.metadata(),
        }
    )


WORD_ARCHIVE_SCHEMA = pa.schema(
    [
        ("segment_index", pa.int32()),
        ("word_index", pa.int32()),
        ("word", pa.string()),
        ("start_ms", pa.int32()),
        ("end_ms", pa.int32()),
        ("confidence", pa.float32()),
        ("speaker", pa.string()),
    ]
)


@dg.asset(
    partitions_def=hearings_partitions,
    group_name="index",
    automation_condition=follow_upstream(),
    deps=[aligned_segments],
    kinds={"parquet"},
    code_version="word_archive-v1",
    description="Every word with its times, confidence and speaker (Parquet), kept for later re-segmentation.",
    op_tags=step_tags("word_archive"),
    pool=step_pool("word_archive"),
)
def word_archive(context: dg.AssetExecutionContext, artifact_store: ArtifactStore) -> dg.MaterializeResult:
    key = context.partition_key
    segments = segments_from_json(artifact_store.read_json(key, ALIGNED_SEGMENTS_JSON))
    rows = [
        (s.index, i, w.word, w.start_ms, w.end_ms, w.confidence, w.speaker)
        for s in segments
        for i, w in enumerate(s.words)
    ]
    table = pa.Table.from_pylist(
        [dict(zip(WORD_ARCHIVE_SCHEMA.names, r, strict=True)) for r in rows], schema=WORD_ARCHIVE_SCHEMA
    )
    with artifact_store.writer(key, WORD_ARCHIVE_PARQUET) as path:
        pq.write_table(table, path, compression="zstd")
    return dg.MaterializeResult(
        metadata={
            "words": len(rows),
            "size_bytes": artifact_store.size(key, WORD_ARCHIVE_PARQUET),
            "uri": dg.MetadataValue.path(artifact_store.uri(key, WORD_ARCHIVE_PARQUET)),
        }
    )
