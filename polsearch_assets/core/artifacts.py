"""A hearing's artifacts: the storage protocol, every artifact's name, and its typed read and write.

One folder of named artifacts per hearing (``<root>/<hearing key>/<name>``). Stores are
atomic per artifact: a write becomes visible only when it is complete, so a crashed step
never leaves a half-written artifact that looks valid. Where a stage writes two artifacts,
the JSON document is written last and is the commit point (see ``write_diarization``).
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from polsearch_assets.core.audio.speech_frames import FrameScores
from polsearch_assets.core.contracts import (
    Cue,
    Diarization,
    Segment,
    SpeakerFrames,
    SpeakerName,
    VadChunks,
    segments_from_json,
    segments_to_json,
)

CATALOG_JSON = "hearing.json"  # the hearing's catalog entry (core.catalog)
RAW_AUDIO_WAV = "raw_audio.wav"
RAW_AUDIO_SOURCE = "raw_audio.json"
VAD_CHUNKS_JSON = "vad_chunks.json"
SPEECH_FRAMES = "speech_frames.npz"
TRANSCRIPT_JSON = "transcript.json"
DIARIZATION_JSON = "diarization.json"
DIARIZATION_FRAMES = "diarization_frames.npz"
ALIGNED_SEGMENTS_JSON = "aligned_segments.json"
SPEAKER_NAMES_JSON = "speaker_names.json"
WORD_ARCHIVE_PARQUET = "word_archive.parquet"
# Large, and fetched again from the source when needed: what audio retention may delete.
INTERMEDIATE_AUDIO = (RAW_AUDIO_WAV,)

_NAME_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def validate_artifact_name(name: str) -> str:
    """Artifact names are relative paths of plain parts (``raw_audio.wav``)."""
    parts = name.split("/")
    if not name or any(not _NAME_PART_RE.match(p) or p.startswith("..") for p in parts):
        raise ValueError(f"invalid artifact name {name!r}")
    return name


@dataclass(frozen=True)
class ArtifactInfo:
    name: str
    size_bytes: int
    modified: datetime  # UTC


class ArtifactStore(ABC):
    """Where a hearing's artifacts live (a local directory, an S3 bucket)."""

    @abstractmethod
    def uri(self, hearing: str, name: str) -> str: ...

    @abstractmethod
    def exists(self, hearing: str, name: str) -> bool: ...

    @abstractmethod
    def size(self, hearing: str, name: str) -> int: ...

    @abstractmethod
    def list_artifacts(self, hearing: str) -> list[ArtifactInfo]:
        """The hearing's artifacts, sorted by name (none if the hearing has no folder)."""

    @abstractmethod
    def delete(self, hearing: str, name: str) -> None:
        """Remove one artifact; removing an absent one is not an error."""

    @abstractmethod
    def writer(self, hearing: str, name: str) -> AbstractContextManager[Path]:
        """A local path to write; it becomes the artifact only if the block succeeds."""

    @abstractmethod
    def reader(self, hearing: str, name: str) -> AbstractContextManager[Path]:
        """A local path holding the artifact's bytes (raises FileNotFoundError if absent)."""

    def delete_hearing(self, hearing: str) -> None:
        """Remove every artifact of the hearing."""
        for artifact in self.list_artifacts(hearing):
            self.delete(hearing, artifact.name)

    def write_bytes(self, hearing: str, name: str, data: bytes) -> None:
        with self.writer(hearing, name) as path:
            path.write_bytes(data)

    def write_json(self, hearing: str, name: str, value: Any) -> None:
        self.write_bytes(hearing, name, json.dumps(value, indent=1, ensure_ascii=False).encode())

    def read_bytes(self, hearing: str, name: str) -> bytes:
        with self.reader(hearing, name) as path:
            return path.read_bytes()

    def read_json(self, hearing: str, name: str) -> Any:
        return json.loads(self.read_bytes(hearing, name).decode("utf-8"))

    def read_json_many(self, hearings: Sequence[str], name: str) -> dict[str, Any]:
        """``name`` of each of ``hearings`` that has it (a listing of many hearings): one read each, no
        existence check first, 16 at a time (an object store's reads are round trips)."""

        def read(hearing: str) -> Any:
            try:
                return self.read_json(hearing, name)
            except FileNotFoundError:
                return None

        with ThreadPoolExecutor(max_workers=16) as pool:
            found = dict(zip(hearings, pool.map(read, hearings), strict=True))
        return {hearing: value for hearing, value in found.items() if value is not None}


# --- typed reads and writes, one pair per stage ------------------------------------------------------


def audio_duration_ms(store: ArtifactStore, key: str) -> int:
    """The hearing's audio length, as raw_audio recorded it."""
    return int(store.read_json(key, RAW_AUDIO_SOURCE)["duration_ms"])


def _commit_with_companion(
    store: ArtifactStore,
    key: str,
    name: str,
    document: dict[str, Any],
    companion: str,
    attached: tuple[bytes, dict[str, Any]] | None,
) -> None:
    """Write ``attached``'s bytes as ``companion``, then ``document`` pointing to it under ``frames`` with
    ``attached``'s facts (the commit point); with nothing attached, a companion an earlier run left is
    removed, never to be read beside this document."""
    if attached is not None:
        data, facts = attached
        store.write_bytes(key, companion, data)
        document["frames"] = {"artifact": companion, **facts}
    elif store.exists(key, companion):
        store.delete(key, companion)
    store.write_json(key, name, document)


def write_vad_chunks(
    store: ArtifactStore, key: str, vad: VadChunks, frames: FrameScores | None = None, frames_model: str = ""
) -> None:
    """vad_chunks.json, and beside it the segmentation scores it was drawn from, when the VAD has them
    (the diarizer reuses them instead of running segmentation again). The document is the commit point."""
    document = {"hearing": key, **vad.to_json()}
    attached = (
        None if frames is None else (frames.to_npz(), {"model": frames_model, "count": len(frames.speech)})
    )
    _commit_with_companion(store, key, VAD_CHUNKS_JSON, document, SPEECH_FRAMES, attached)


def read_speech_frames(store: ArtifactStore, key: str, model: str) -> FrameScores | None:
    """The segmentation scores vad_chunks kept, if ``model`` made them; None when there are none, another
    model or step made them, or they are not the ones the document was written with (a step that failed
    between the two writes): the caller computes its own then."""
    section = store.read_json(key, VAD_CHUNKS_JSON).get("frames")
    if not section or section["model"] != model or not store.exists(key, section["artifact"]):
        return None
    frames = FrameScores.from_npz(store.read_bytes(key, section["artifact"]))
    return frames if len(frames.speech) == section["count"] else None


def read_vad_chunks(store: ArtifactStore, key: str) -> VadChunks:
    return VadChunks.from_json(store.read_json(key, VAD_CHUNKS_JSON))


def write_transcript(store: ArtifactStore, key: str, segments: list[Segment], model: str) -> None:
    store.write_json(key, TRANSCRIPT_JSON, {"hearing": key, "model": model, **segments_to_json(segments)})


def read_transcript(store: ArtifactStore, key: str) -> list[Segment]:
    return segments_from_json(store.read_json(key, TRANSCRIPT_JSON))


def write_aligned_segments(store: ArtifactStore, key: str, segments: list[Segment]) -> None:
    store.write_json(key, ALIGNED_SEGMENTS_JSON, {"hearing": key, **segments_to_json(segments)})


def read_aligned_segments(store: ArtifactStore, key: str) -> list[Segment]:
    return segments_from_json(store.read_json(key, ALIGNED_SEGMENTS_JSON))


def write_diarization(store: ArtifactStore, key: str, result: Diarization, model: str) -> None:
    """diarization.json, and beside it the per-frame probabilities when the backend gives them. The
    frames are written first: the document, which says whether there are frames, is the commit point."""
    document = {"hearing": key, "model": model, **result.to_json()}
    frames = result.frames
    attached = (
        None
        if frames is None
        else (frames.to_npz(), {"frame_ms": frames.frame_ms, "count": len(frames.probabilities)})
    )
    _commit_with_companion(store, key, DIARIZATION_JSON, document, DIARIZATION_FRAMES, attached)


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


def read_diarization(store: ArtifactStore, key: str, *, with_frames: bool = True) -> Diarization:
    document = store.read_json(key, DIARIZATION_JSON)
    diarization = Diarization.from_json(document)
    return replace(diarization, frames=read_frames(store, key, document)) if with_frames else diarization


@dataclass(frozen=True)
class SpeakerNames:
    """speaker_names: each hearing speaker's person (or none), and the introductions heard."""

    encoder: str | None
    threshold: float | None
    speakers: tuple[SpeakerName, ...]
    cues: tuple[Cue, ...] = ()
    library_version: int | None = (
        None  # the voiceprint library's version matched against (None: before it was kept)
    )

    def named(self) -> dict[str, SpeakerName]:
        """The speakers matched to a person, by label."""
        return {s.speaker: s for s in self.speakers if s.person}


def write_speaker_names(store: ArtifactStore, key: str, names: SpeakerNames) -> None:
    store.write_json(
        key,
        SPEAKER_NAMES_JSON,
        {
            "hearing": key,
            "encoder": names.encoder,
            "threshold": names.threshold,
            "speakers": [s.to_json() for s in names.speakers],
            "cues": [c.to_json() for c in names.cues],
            "library_version": names.library_version,
        },
    )


def read_speaker_names(store: ArtifactStore, key: str) -> SpeakerNames:
    document = store.read_json(key, SPEAKER_NAMES_JSON)
    return SpeakerNames(
        encoder=document.get("encoder"),
        threshold=document.get("threshold"),
        speakers=tuple(SpeakerName.from_json(s) for s in document["speakers"]),
        cues=tuple(Cue.from_json(c) for c in document.get("cues", [])),
        library_version=document.get("library_version"),
    )
