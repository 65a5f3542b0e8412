"""Per-frame speech, speaker-count and overlap scores from pyannote segmentation-3.0 outputs (model-free).

The model (``backends/vad/segmentation.py``) sees 10 s windows and predicts, per ~17 ms frame, one of 7
powerset classes: no speech, one of 3 *local* speakers, or one of the 3 pairs. Windows slide with a
fixed step; their decoded per-frame outputs are Hamming-weighted and averaged onto the hearing's timeline
as they are produced, so memory is the result's frames only (a few MB per hour); each window's local
speakers are kept hard-decoded, one byte per frame (``LocalTracks``: about 0.4 MB per hour).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations

import numpy as np

SAMPLE_RATE = 16_000
WINDOW_SAMPLES = 160_000  # 10 s: the model was trained on 10 s chunks
NUM_LOCAL_SPEAKERS = 3
MAX_SPEAKERS_PER_FRAME = 2

# Receptive-field geometry of PyanNet's SincNet front end (stride 10, three max-pools of 3):
# 270 samples per output frame, 991 samples of context per frame.
FRAME_STEP_SAMPLES = 270
FRAME_SIZE_SAMPLES = 991
FRAMES_PER_WINDOW = 589
# Where frame 0's central 270-sample hop starts, in ms: frame i covers [offset + i*step, offset + (i+1)*step).
FRAME_OFFSET_MS = (FRAME_SIZE_SAMPLES / 2 - FRAME_STEP_SAMPLES / 2) * 1000 / SAMPLE_RATE


def powerset_mapping(
    num_speakers: int = NUM_LOCAL_SPEAKERS, max_set_size: int = MAX_SPEAKERS_PER_FRAME
) -> np.ndarray:
    """(classes, speakers) 0/1 table: row k is the speaker set of powerset class k.

    pyannote orders classes by set size, then lexicographically: {}, {0}, {1}, {2}, {0,1}, {0,2}, {1,2}.
    """
    rows = []
    for size in range(max_set_size + 1):
        for subset in combinations(range(num_speakers), size):
            row = np.zeros(num_speakers, dtype=np.float32)
            row[list(subset)] = 1.0
            rows.append(row)
    return np.stack(rows)


@dataclass(frozen=True)
class DecodedWindows:
    """Per-window, per-frame quantities derived from powerset log-probabilities."""

    speech: np.ndarray  # (B, F) P(at least one speaker)
    count: np.ndarray  # (B, F) expected number of simultaneous speakers, in [0, 2]


def decode_powerset(log_probs: np.ndarray, mapping: np.ndarray | None = None) -> DecodedWindows:
    """Soft decoding: the model ends in log-softmax over the 7 classes, so exp() gives class posteriors."""
    table = powerset_mapping() if mapping is None else mapping
    probs = np.exp(log_probs.astype(np.float32))
    set_size = table.sum(axis=1)  # 0,1,1,1,2,2,2
    return DecodedWindows(
        speech=1.0 - probs[..., 0],
        count=probs @ set_size,
    )


@dataclass(frozen=True)
class LocalTracks:
    """Hard-decoded local speakers of every segmentation window, in window order."""

    starts: np.ndarray  # int64 (W,) first sample of each window
    bits: np.ndarray  # uint8 (W, FRAMES_PER_WINDOW): bit k set where local speaker k talks

    def __len__(self) -> int:
        return len(self.starts)

    @classmethod
    def empty(cls) -> LocalTracks:
        return cls(np.zeros(0, dtype=np.int64), np.zeros((0, FRAMES_PER_WINDOW), dtype=np.uint8))

    @classmethod
    def concatenate(cls, starts: list[int], bits: list[np.ndarray]) -> LocalTracks:
        if not starts:
            return cls.empty()
        return cls(np.asarray(starts, dtype=np.int64), np.concatenate(bits).astype(np.uint8))


@dataclass(frozen=True)
class FrameScores:
    """Aggregated per-frame outputs on the global timeline.

    Frame i covers the model's receptive field starting at sample i*270; its central hop starts at
    ``FRAME_OFFSET_MS + i * frame_step_ms``.
    """

    speech: np.ndarray  # float32 P(speech)
    count: np.ndarray  # float32 expected simultaneous speakers (round it for 0/1/2)
    num_samples: int
    # Each window's local speakers (``core/audio/local_speakers``); None from a run that did not keep them.
    local: LocalTracks | None = None

    @property
    def frame_step_ms(self) -> float:
        return FRAME_STEP_SAMPLES * 1000.0 / SAMPLE_RATE

    def speaker_count(self) -> np.ndarray:
        return np.clip(np.rint(self.count), 0, MAX_SPEAKERS_PER_FRAME).astype(np.int8)

    def to_npz(self) -> bytes:
        # float32 as computed: a diarizer reading them back draws exactly the turns it would compute.
        buffer = io.BytesIO()
        local = (
            {} if self.local is None else {"local_starts": self.local.starts, "local_bits": self.local.bits}
        )
        np.savez_compressed(
            buffer, speech=self.speech, count=self.count, num_samples=np.int64(self.num_samples), **local
        )
        return buffer.getvalue()

    @classmethod
    def from_npz(cls, data: bytes) -> FrameScores:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            local = (
                LocalTracks(stored["local_starts"].astype(np.int64), stored["local_bits"].astype(np.uint8))
                if "local_bits" in stored.files
                else None
            )
            return cls(
                speech=stored["speech"].astype(np.float32),
                count=stored["count"].astype(np.float32),
                num_samples=int(stored["num_samples"]),
                local=local,
            )


def num_global_frames(num_samples: int) -> int:
    return max(1, (max(num_samples, FRAME_SIZE_SAMPLES) - FRAME_SIZE_SAMPLES) // FRAME_STEP_SAMPLES + 1)


def window_frames(num_samples: int, start_sample: int, frames: int) -> tuple[int, int]:
    """(first global frame, how many of its ``frames`` count) for a window starting at ``start_sample``:
    frames whose receptive field lies in the zero padding after the end carry no information."""
    first = round(start_sample / FRAME_STEP_SAMPLES)
    valid = min(frames, num_global_frames(num_samples - start_sample) if start_sample < num_samples else 0)
    return first, max(0, min(first + valid, num_global_frames(num_samples)) - first)


class FrameAggregator:
    """Running Hamming-weighted average of overlapping window outputs (pure numpy)."""

    def __init__(self, num_samples: int, channels: int) -> None:
        self.num_samples = num_samples
        self.total = np.zeros((num_global_frames(num_samples), channels), dtype=np.float32)
        self.weight = np.zeros(len(self.total), dtype=np.float32)
        # Frames near a window edge see less context, so they count less (as pyannote does).
        self.hamming = np.hamming(FRAMES_PER_WINDOW).astype(np.float32) + 1e-3

    def add(self, start_sample: int, values: np.ndarray) -> None:
        """values: (frames, channels) of one window starting at `start_sample` (may run past the end)."""
        first, n = window_frames(self.num_samples, start_sample, len(values))
        if n <= 0:
            return
        last = first + n
        w = self.hamming[:n]
        self.total[first:last] += values[:n] * w[:, None]
        self.weight[first:last] += w

    def result(self) -> np.ndarray:
        return self.total / np.maximum(self.weight, 1e-6)[:, None]


def iter_window_starts(num_samples: int, step_samples: int) -> Iterator[int]:
    """Window starts covering the whole file; the last window is aligned to end with the file."""
    if num_samples <= WINDOW_SAMPLES:
        yield 0
        return
    start = 0
    while start + WINDOW_SAMPLES < num_samples:
        yield start
        start += step_samples
    yield num_samples - WINDOW_SAMPLES
