"""transcript, diarization and aligned_segments: who said which words when (asset bodies; specs in assets.py)."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import numpy as np

from polsearch_assets.config import FromSettings, WordSpeakersRule, setting
from polsearch_assets.core.artifacts import (
    ALIGNED_SEGMENTS_JSON,
    DIARIZATION_JSON,
    TRANSCRIPT_JSON,
    read_diarization,
    read_speech_frames,
    read_transcript,
    read_vad_chunks,
    write_aligned_segments,
    write_diarization,
    write_transcript,
)
from polsearch_assets.core.contracts import Segment, VadChunks
from polsearch_assets.core.speech.alignment import (
    assign_speakers,
    assign_speakers_by_frames,
    one_speaker_per_phrase,
    segment_words,
)
from polsearch_assets.defs.hearing import beside
from polsearch_assets.defs.hearing.audio import raw_wav
from polsearch_assets.defs.hearing.engines import DiarizerResource, TranscriberResource
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource


class WordSpeakers(FromSettings, dg.ConfigurableResource):
    """How aligned_segments gives each word a speaker."""

    rule: WordSpeakersRule = setting("word_speakers")


@contextmanager
def _vad_input(store: ArtifactStoreResource, key: str) -> Iterator[tuple[Path, VadChunks]]:
    """The hearing's WAV path and its vad_chunks."""
    vad = read_vad_chunks(store, key)
    with raw_wav(store, key) as wav_path:
        yield wav_path, vad


def _transcribe(
    store: ArtifactStoreResource, key: str, transcriber: TranscriberResource, log: logging.Logger
) -> list[Segment]:
    with _vad_input(store, key) as (wav_path, vad):
        return transcriber.engine.transcribe(wav_path, vad.chunks, log)


def _beside_key(key: str) -> str:
    return f"transcript/{key}"


def transcript(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource, transcriber: TranscriberResource
) -> dg.MaterializeResult:
    key = context.partition_key
    started = beside.take(context.run_id, _beside_key(key))
    if started is None:
        segments = _transcribe(artifact_store, key, transcriber, context.log)
    else:
        segments = started.value
        context.log.info(
            f"hearing {key}: transcript taken from beside diarization ({started.seconds:.1f} s of work)"
        )
    write_transcript(artifact_store, key, segments, transcriber.model_identity)
    words = [w for s in segments for w in s.words]
    confidences = [w.confidence for w in words if w.confidence is not None]
    context.log.info(f"hearing {key}: {len(words)} words in {len(segments)} segments")
    # A model that gives no word confidence (NeMo TDT greedy decoding) says so, rather than a 0.0.
    confidence = (
        {"mean_confidence": dg.MetadataValue.float(round(float(np.mean(confidences)), 4))}
        if confidences
        else {"confidence": "not given by the model"}
    )
    # Work done beside diarization: this step's own time is only the wait for it; work_seconds is the work's.
    overlap = (
        {
            "started_beside_diarization": True,
            "work_seconds": dg.MetadataValue.float(round(started.seconds, 3)),
        }
        if started
        else {}
    )
    return dg.MaterializeResult(
        metadata={
            "segments": len(segments),
            "words": len(words),
            **confidence,
            "model": transcriber.model_identity,
            "uri": dg.MetadataValue.path(artifact_store.uri(key, TRANSCRIPT_JSON)),
            **overlap,
        }
    )


def diarization(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource, diarizer: DiarizerResource
) -> dg.MaterializeResult:
    key = context.partition_key
    identity = diarizer.engine.reusable_frames
    frames = read_speech_frames(artifact_store, key, identity) if identity else None
    if identity:  # say why a diarizer that could reuse vad_chunks' scores runs segmentation again
        context.log.info(
            f"hearing {key}: "
            + (
                "segmentation scores taken from vad_chunks"
                if frames
                else f"running segmentation ({identity})"
            )
        )
    with _vad_input(artifact_store, key) as (wav_path, vad):
        result = diarizer.engine.diarize(wav_path, vad.regions, context.log, frames=frames)
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
            "segmentation_reused": frames is not None,
            **result.details,
        }
    )


def _runs_transcript_later(context: dg.AssetExecutionContext) -> bool:
    """Whether this run's transcript step for this hearing is still to come (it is ordered after diarization)."""
    steps = context.run.step_keys_to_execute  # a re-execution's steps; None: the whole (sub)job
    if steps is not None:
        return "transcript" in steps
    return dg.AssetKey("transcript") in context.job_def.asset_layer.selected_asset_keys


def diarization_beside_transcript(
    context: dg.AssetExecutionContext,
    artifact_store: ArtifactStoreResource,
    diarizer: DiarizerResource,
    transcriber: TranscriberResource,
) -> dg.MaterializeResult:
    """diarization, with the transcript's work started beside it when this in-process run transcribes too."""
    key = context.partition_key
    later = _runs_transcript_later(context)
    if later:
        beside.start(
            context.run_id,
            _beside_key(key),
            lambda log: _transcribe(artifact_store, key, transcriber, log),
            context.log,
        )
        context.log.info(f"hearing {key}: transcript started beside diarization")
    with beside.stopped_if_interrupted(context.run_id, _beside_key(key)):
        result = diarization(context, artifact_store, diarizer)
    return dg.MaterializeResult(metadata={**(result.metadata or {}), "transcript_started_beside": later})


def aligned_segments(
    context: dg.AssetExecutionContext, artifact_store: ArtifactStoreResource, word_speakers: WordSpeakers
) -> dg.MaterializeResult:
    key = context.partition_key
    words = [w for s in read_transcript(artifact_store, key) for w in s.words]
    speakers = read_diarization(artifact_store, key)
    if word_speakers.rule == "frame-probabilities" and words:  # no speech: no frames, no words
        if speakers.frames is None:
            raise dg.Failure(
                description=f"hearing {key}: POLSEARCH_WORD_SPEAKERS=frame-probabilities, but its diarization "
                "has no per-frame probabilities (made by a backend that gives turns only); re-materialize "
                "diarization with the sortformer backend, or use max-overlap",
            )
        words = assign_speakers_by_frames(words, speakers.frames, speakers.turns)
    else:
        words = assign_speakers(words, speakers.turns)
    segments = segment_words(one_speaker_per_phrase(words))
    write_aligned_segments(artifact_store, key, segments)
    lengths = [(s.end_ms - s.start_ms) / 1000 for s in segments]
    return dg.MaterializeResult(
        metadata={
            "segments": len(segments),
            "words": len(words),
            "speakers": len({s.speaker for s in segments}),
            "word_speakers": word_speakers.rule,
            "segment_s_mean": dg.MetadataValue.float(round(float(np.mean(lengths)), 2) if lengths else 0.0),
            "segment_s_max": dg.MetadataValue.float(round(max(lengths, default=0.0), 2)),
            "uri": dg.MetadataValue.path(artifact_store.uri(key, ALIGNED_SEGMENTS_JSON)),
        }
    )
