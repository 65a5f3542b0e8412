"""Asset checks: every stage's data contract, per hearing, read back from the stored artifacts.

Checks run in every run that materializes their asset, and alone from the UI (an
artifact edited or corrupted later fails its check then). The checks of the stages
that feed others are *blocking*: when one fails, the run does not execute the
downstream assets of that hearing, and automation does not request them. Rules live
in ``contract_checks`` (pure); this module reads artifacts and reports.
"""

import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import soundfile as sf

from polsearch_assets.core.artifacts import (
    ALIGNED_SEGMENTS_JSON,
    DIARIZATION_JSON,
    RAW_AUDIO_WAV,
    SPEAKER_NAMES_JSON,
    TRANSCRIPT_JSON,
    VAD_CHUNKS_JSON,
    WORD_ARCHIVE_PARQUET,
    audio_duration_ms,
    read_transcript,
    read_vad_chunks,
)
from polsearch_assets.core.audio.chunking import split_chunks
from polsearch_assets.core.contracts import SpeakerFrames
from polsearch_assets.core.speech.hallucinations import hallucination_suspects
from polsearch_assets.core.validation import (
    aligned_problems,
    archive_problems,
    audio_problems,
    chunk_problems,
    diarization_problems,
    frames_problems,
    index_problems,
    speaker_names_problems,
    summarize,
    transcript_problems,
    voices_problems,
)
from polsearch_assets.defs.hearing.partitions import hearings_partitions
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource
from polsearch_assets.defs.platform.index import LanceIndex

DECODING_WINDOW_MS = 30_000  # Whisper's window, over which its compression ratio is measured
MAX_SUSPECTS_LISTED = 50  # in the check's metadata; all are counted

# Per-hearing (partitioned) checks are a preview API in Dagster 1.13. dagster is pinned exactly in
# pyproject.toml, and test_checks exercises every check, so an upgrade that changes them fails the tests.
warnings.filterwarnings(
    "ignore", message="Specifying a partitions_def on an AssetCheckSpec", category=Warning
)


def _report(key: str, problems: list[str], **metadata: Any) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"hearing {key}: {summarize(problems)}" if problems else f"hearing {key}: contract holds",
        metadata={"problems": len(problems), **metadata},
    )


def _check(key: str, inspect: Callable[[], list[str]]) -> dg.AssetCheckResult:
    """Run ``inspect``; a missing artifact is itself a failed contract, not a crashed check."""
    try:
        problems = inspect()
    except FileNotFoundError as error:
        problems = [str(error)]
    except (KeyError, TypeError, ValueError) as error:
        problems = [f"artifact does not have the contract's shape: {type(error).__name__}: {error}"]
    return _report(key, problems)


def _contract_check(asset: str, *, blocking: bool, description: str):
    return dg.asset_check(
        asset=asset,
        name="contract",
        partitions_def=hearings_partitions,
        blocking=blocking,
        description=description,
    )


@_contract_check(
    "raw_audio",
    blocking=True,
    description="The WAV is 16 kHz mono, not empty, and as long as raw_audio.json reports.",
)
def raw_audio_contract(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    key = context.partition_key

    def inspect() -> list[str]:
        with artifact_store.reader(key, RAW_AUDIO_WAV) as wav:
            info = sf.info(str(wav))
        return audio_problems(
            info.frames, info.samplerate, info.channels, audio_duration_ms(artifact_store, key)
        )

    return _check(key, inspect)


def _timeline_contract(
    asset: str,
    artifact: str,
    rules: Callable[[dict[str, Any], int], list[str]],
    description: str,
) -> dg.AssetChecksDefinition:
    """The blocking contract check of a stage whose artifact is a JSON document on the hearing's timeline."""

    @_contract_check(asset, blocking=True, description=description)
    def contract(
        context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
    ) -> dg.AssetCheckResult:
        key = context.partition_key
        return _check(
            key,
            lambda: rules(artifact_store.read_json(key, artifact), audio_duration_ms(artifact_store, key)),
        )

    return contract


vad_chunks_contract = _timeline_contract(
    "vad_chunks",
    VAD_CHUNKS_JSON,
    chunk_problems,
    "Chunks are indexed 0..n-1, ordered, non-overlapping and inside the audio; their speech lies inside them.",
)
transcript_contract = _timeline_contract(
    "transcript",
    TRANSCRIPT_JSON,
    transcript_problems,
    "Segments and words lie inside the audio with start <= end, in time order; confidences in 0..1.",
)


@_contract_check(
    "diarization",
    blocking=True,
    description="Turns lie inside the audio with start < end, in time order; speakers are listed and numbered "
    "SPEAKER_0, SPEAKER_1, ... by first appearance; each speaker has a unit-length voice embedding from one "
    "encoder and its speaking time; per-frame probabilities, where given, cover the audio "
    "with one column per speaker, in 0..1.",
)
def diarization_contract(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    key = context.partition_key

    def inspect() -> list[str]:
        document = artifact_store.read_json(key, DIARIZATION_JSON)
        duration_ms = audio_duration_ms(artifact_store, key)
        problems = diarization_problems(document, duration_ms) + voices_problems(document)
        if "frames" in document:  # read as stored, so every mismatch is reported, not just the first
            frames = SpeakerFrames.from_npz(artifact_store.read_bytes(key, document["frames"]["artifact"]))
            problems += frames_problems(document, frames, duration_ms)
        return problems

    return _check(key, inspect)


aligned_segments_contract = _timeline_contract(
    "aligned_segments",
    ALIGNED_SEGMENTS_JSON,
    aligned_problems,
    "Every word and segment has a speaker; words and segments lie inside the audio, in time order.",
)


@_contract_check(
    "speaker_names",
    blocking=True,
    description="Every diarized speaker is listed once, with its speaking time and the diarization's voice "
    "encoder; each person is named at most once, and only at or above the match threshold; introductions "
    "point to speakers of the hearing.",
)
def speaker_names_contract(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    key = context.partition_key
    return _check(
        key,
        lambda: speaker_names_problems(
            artifact_store.read_json(key, SPEAKER_NAMES_JSON), artifact_store.read_json(key, DIARIZATION_JSON)
        ),
    )


@dg.asset_check(
    asset="vad_chunks",
    partitions_def=hearings_partitions,
    description="Warns when VAD found no speech: every later stage succeeds with empty output and the hearing "
    "gets no index rows.",
)
def speech_found(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    key = context.partition_key
    document = artifact_store.read_json(key, VAD_CHUNKS_JSON)
    found = bool(document["chunks"])
    return dg.AssetCheckResult(
        passed=found,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"hearing {key}: "
        + (
            f"{document['speech_ms'] / 1000:.1f} s of speech"
            if found
            else "no speech detected; nothing will be indexed"
        ),
        metadata={"speech_s": document["speech_ms"] / 1000},
    )


@dg.asset_check(
    asset="transcript",
    partitions_def=hearings_partitions,
    description="Warns where the transcript looks made up: a word n-gram repeated 4+ times back to back, words "
    "where the VAD heard no speech, a 30 s window whose text compresses past 2.4x (zlib), more than 6 words a "
    "second. Not blocking: these are signs (people do say 'no, no, no, no'), and a few doubtful seconds "
    "should not keep hours of a hearing out of the index; the times say where to listen.",
)
def plausible_text(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    key = context.partition_key
    segments = read_transcript(artifact_store, key)
    windows = split_chunks(read_vad_chunks(artifact_store, key).chunks, DECODING_WINDOW_MS)
    suspects = hallucination_suspects(segments, windows)
    kinds = Counter(s.kind for s in suspects)
    return dg.AssetCheckResult(
        passed=not suspects,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"hearing {key}: "
        + (summarize([str(s) for s in suspects]) if suspects else "no sign of made-up text"),
        metadata={
            "suspects": len(suspects),
            **{f"suspects_{kind}": count for kind, count in sorted(kinds.items())},
            "stretches": dg.MetadataValue.json([s.to_json() for s in suspects[:MAX_SUSPECTS_LISTED]]),
        },
    )


@_contract_check(
    "hearing_index",
    blocking=False,
    description="The index holds exactly one row per aligned segment of the hearing, with its times, speaker and text.",
)
def hearing_index_contract(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource, lance_index: LanceIndex
) -> dg.AssetCheckResult:
    key = context.partition_key
    return _check(
        key,
        lambda: index_problems(
            lance_index.open().rows(key), artifact_store.read_json(key, ALIGNED_SEGMENTS_JSON)["segments"]
        ),
    )


@_contract_check(
    "word_archive",
    blocking=False,
    description="The archive holds every aligned word, in order, with its times and speaker.",
)
def word_archive_contract(
    context: dg.AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> dg.AssetCheckResult:
    key = context.partition_key

    def inspect() -> list[str]:
        with artifact_store.reader(key, WORD_ARCHIVE_PARQUET) as path:
            rows = pq.read_table(path).to_pylist()
        return archive_problems(rows, artifact_store.read_json(key, ALIGNED_SEGMENTS_JSON)["segments"])

    return _check(key, inspect)


HEARING_CHECKS = [
    raw_audio_contract,
    vad_chunks_contract,
    speech_found,
    transcript_contract,
    plausible_text,
    diarization_contract,
    aligned_segments_contract,
    speaker_names_contract,
    hearing_index_contract,
    word_archive_contract,
]
