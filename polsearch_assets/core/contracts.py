"""The stage data contracts (DESIGN.md): plain dataclasses with their JSON form.

Times are integer milliseconds on the hearing's global timeline, never chunk-relative.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

# A hearing's assets in graph order: one name per stage, the same in Dagster, artifacts and the API.
HEARING_ASSETS = (
    "raw_audio",
    "vad_chunks",
    "transcript",
    "diarization",
    "aligned_segments",
    "speaker_names",
    "hearing_index",
    "word_archive",
)


@dataclass(frozen=True)
class SpeechRegion:
    """A stretch of speech found by the VAD."""

    start_ms: int
    end_ms: int

    def to_json(self) -> dict[str, int]:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> SpeechRegion:
        return cls(int(value["start_ms"]), int(value["end_ms"]))


@dataclass(frozen=True)
class Chunk:
    """A piece of a hearing's speech of bounded length, cut in a silence; the model stages work per chunk."""

    index: int
    start_ms: int
    end_ms: int
    speech: tuple[SpeechRegion, ...] = field(default=())

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "speech": [r.to_json() for r in self.speech],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Chunk:
        return cls(
            index=int(value["index"]),
            start_ms=int(value["start_ms"]),
            end_ms=int(value["end_ms"]),
            speech=tuple(SpeechRegion.from_json(r) for r in value.get("speech", [])),
        )


@dataclass(frozen=True)
class VadChunks:
    """vad_chunks: the hearing's speech regions, cut into chunks."""

    duration_ms: int
    model: str
    chunks: tuple[Chunk, ...]

    @property
    def speech_ms(self) -> int:
        return sum(r.end_ms - r.start_ms for c in self.chunks for r in c.speech)

    @property
    def regions(self) -> list[SpeechRegion]:
        return [r for c in self.chunks for r in c.speech]

    def to_json(self) -> dict[str, Any]:
        return {
            "duration_ms": self.duration_ms,
            "model": self.model,
            "speech_ms": self.speech_ms,
            "chunks": [c.to_json() for c in self.chunks],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> VadChunks:
        return cls(
            duration_ms=int(value["duration_ms"]),
            model=str(value.get("model", "")),
            chunks=tuple(Chunk.from_json(c) for c in value["chunks"]),
        )


@dataclass(frozen=True)
class Word:
    word: str
    start_ms: int
    end_ms: int
    confidence: float | None = None
    speaker: str | None = None  # set by alignment

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Word:
        return cls(
            word=value["word"],
            start_ms=int(value["start_ms"]),
            end_ms=int(value["end_ms"]),
            confidence=value.get("confidence"),
            speaker=value.get("speaker"),
        )

    def within(self, duration_ms: int) -> Word:
        """This word with its times clamped into the audio, ``[0, duration_ms]``."""
        start = min(max(self.start_ms, 0), duration_ms)
        return replace(self, start_ms=start, end_ms=min(max(self.end_ms, start), duration_ms))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.speaker is None:
            del data["speaker"]
        return data


@dataclass(frozen=True)
class Segment:
    """A transcript segment; ``speaker`` is set once aligned."""

    index: int
    start_ms: int
    end_ms: int
    text: str
    words: tuple[Word, ...] = field(default=())
    speaker: str | None = None

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Segment:
        return cls(
            index=int(value["index"]),
            start_ms=int(value["start_ms"]),
            end_ms=int(value["end_ms"]),
            text=value["text"],
            words=tuple(Word.from_json(w) for w in value.get("words", [])),
            speaker=value.get("speaker"),
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"index": self.index, "start_ms": self.start_ms, "end_ms": self.end_ms}
        if self.speaker is not None:
            data["speaker"] = self.speaker
        data["text"] = self.text
        data["words"] = [w.to_json() for w in self.words]
        return data


@dataclass(frozen=True)
class Turn:
    speaker: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True, eq=False)
class SpeakerFrames:
    """Per-frame speaker activity probabilities on the global timeline, where a backend gives them.

    Row ``i`` covers ``[i * frame_ms, (i + 1) * frame_ms)``; column ``j`` is ``speakers[j]``. A
    speaker's probability is independent of the others' (overlapping speech: several near 1).
    """

    frame_ms: int
    speakers: tuple[str, ...]
    probabilities: np.ndarray  # [frames, speakers], values in 0..1

    def to_npz(self) -> bytes:
        buffer = io.BytesIO()
        # float16 keeps 3 significant digits (plenty for an activity probability) at half the size:
        # a 4-hour hearing with 15 speakers is 5 MB before compression.
        np.savez_compressed(
            buffer,
            frame_ms=np.int64(self.frame_ms),
            speakers=np.array(self.speakers, dtype=str),
            probabilities=self.probabilities.astype(np.float16),
        )
        return buffer.getvalue()

    @classmethod
    def from_npz(cls, data: bytes) -> SpeakerFrames:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            return cls(
                frame_ms=int(stored["frame_ms"]),
                speakers=tuple(str(s) for s in stored["speakers"]),
                probabilities=stored["probabilities"].astype(np.float32),
            )


def _rounded(vector: np.ndarray) -> list[float]:
    # 6 decimals: cosine similarities stay exact to ~1e-6, the document stays readable.
    return [round(float(x), 6) for x in vector]


@dataclass(frozen=True, eq=False)
class VoicePart:
    """One of the two halves a speaker's windows split into (``clustering.voice_parts``): its share of the
    windows and their mean, L2-normalised. Naming compares each half with a person's voiceprint, so a
    speaker holding two people's speech is not named after one of them."""

    share: float
    embedding: np.ndarray  # [dimension], unit length


@dataclass(frozen=True, eq=False)
class Voice:
    """A hearing speaker's voice: the diarizer's speaker encoder averaged over its speech, L2-normalised;
    ``parts``: its two halves (none where the diarizer keeps no windows, or too few to split)."""

    speaker: str
    speaking_ms: int
    embedding: np.ndarray  # [dimension], unit length
    parts: tuple[VoicePart, ...] = ()

    def to_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "speaker": self.speaker,
            "speaking_ms": self.speaking_ms,
            "embedding": _rounded(self.embedding),
        }
        if self.parts:
            value["parts"] = [
                {"share": round(p.share, 4), "embedding": _rounded(p.embedding)} for p in self.parts
            ]
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Voice:
        parts = tuple(
            VoicePart(float(p["share"]), np.asarray(p["embedding"], dtype=np.float32))
            for p in value.get("parts", ())  # diarizations written before parts existed have none
        )
        return cls(
            str(value["speaker"]),
            int(value["speaking_ms"]),
            np.asarray(value["embedding"], dtype=np.float32),
            parts,
        )


@dataclass(frozen=True)
class Diarization:
    speakers: tuple[str, ...]
    turns: tuple[Turn, ...]
    # Each speaker's voice, and which encoder made it: voices of different encoders never compare.
    voices: tuple[Voice, ...] = field(default=(), compare=False)
    voice_encoder: str | None = field(default=None, compare=False)
    # Not part of the JSON document: stored beside it (diarization_frames.npz) by the asset.
    frames: SpeakerFrames | None = field(default=None, compare=False)
    # What the backend wants shown in the asset's metadata (windows, linking), not stored.
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Diarization:
        return cls(
            speakers=tuple(value["speakers"]),
            turns=tuple(Turn(t["speaker"], int(t["start_ms"]), int(t["end_ms"])) for t in value["turns"]),
            voices=tuple(Voice.from_json(v) for v in value.get("voices", [])),
            voice_encoder=value.get("voice_encoder"),
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"speakers": list(self.speakers), "turns": [asdict(t) for t in self.turns]}
        if self.voice_encoder is not None:
            data["voice_encoder"] = self.voice_encoder
            data["voices"] = [v.to_json() for v in self.voices]
        return data

    def speaking_ms(self) -> dict[str, int]:
        """Each speaker's speaking time (overlapping turns of one speaker counted once each)."""
        talk = dict.fromkeys(self.speakers, 0)
        for turn in self.turns:
            talk[turn.speaker] = talk.get(turn.speaker, 0) + turn.end_ms - turn.start_ms
        return talk


@dataclass(frozen=True)
class SpeakerName:
    """speaker_names: one hearing speaker and the person it was matched to (``person`` None: unnamed)."""

    speaker: str
    speaking_ms: int
    person: str | None = None
    person_id: str | None = None
    similarity: float | None = None  # to the matched person's closest voiceprint; best candidate if unnamed
    candidate: str | None = None  # the closest person, when not named (shown, never applied)
    mixed: bool = False  # not named after ``candidate``: part of this speaker's speech is someone else's

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> SpeakerName:
        return cls(
            speaker=value["speaker"],
            speaking_ms=int(value["speaking_ms"]),
            person=value.get("person"),
            person_id=value.get("person_id"),
            similarity=value.get("similarity"),
            candidate=value.get("candidate"),
            mixed=bool(value.get("mixed", False)),
        )


@dataclass(frozen=True)
class Cue:
    """A spoken introduction ("I now recognize Senator Cantwell") and the speaker who talks right after."""

    speaker: str  # who talks next: the suggested speaker
    name: str  # the name as said
    said_by: str | None
    at_ms: int
    text: str  # the words around it

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Cue:
        return cls(value["speaker"], value["name"], value.get("said_by"), int(value["at_ms"]), value["text"])


def segments_from_json(value: dict[str, Any]) -> list[Segment]:
    return [Segment.from_json(s) for s in value["segments"]]


def segments_to_json(segments: list[Segment]) -> dict[str, Any]:
    return {"segments": [s.to_json() for s in segments]}
