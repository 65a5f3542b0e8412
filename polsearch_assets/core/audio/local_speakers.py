"""Segmentation-3.0's *local* speakers: who talks when inside each 10 s window (model-free).

Each window's powerset output names, per frame, which of its 3 local speakers talk (up to 2 at once). The
speech and count scores (``speech_frames``) average that away; these tracks keep it, hard-decoded (the most
likely class per frame), one byte per frame and window (bit k: local speaker k talks). A 4-hour hearing at a
5 s step is about 2,900 windows x 589 frames: 1.7 MB.

What the tracks tell that the averaged scores cannot: *which* voices talk in a frame, up to 2 at once, at
frame resolution. A local speaker is one voice within its window only; which person it is comes from its
embedding (``backends/diarization/campplus``), and ``speaker_activation`` puts the people back on the
hearing's timeline.
"""

from __future__ import annotations

import numpy as np

from polsearch_assets.core.audio.speech_frames import (
    FRAME_OFFSET_MS,
    FRAME_STEP_SAMPLES,
    NUM_LOCAL_SPEAKERS,
    SAMPLE_RATE,
    FrameAggregator,
    LocalTracks,
)

_BITS = (1 << np.arange(NUM_LOCAL_SPEAKERS)).astype(np.uint8)  # 1, 2, 4
# Where a frame's central hop starts inside its window, in samples (see FRAME_OFFSET_MS).
FRAME_OFFSET_SAMPLES = round(FRAME_OFFSET_MS * SAMPLE_RATE / 1000)


def hard_decode(log_probs: np.ndarray, mapping: np.ndarray) -> np.ndarray:
    """(B, F) uint8 bit sets of the most likely powerset class per frame (``mapping``: class -> speakers)."""
    class_bits = (mapping.astype(np.uint8) * _BITS).sum(axis=1).astype(np.uint8)
    return class_bits[np.argmax(log_probs, axis=-1)]


def unpack(bits: np.ndarray) -> np.ndarray:
    """(..., F) bit sets -> (..., F, 3) bool: local speaker k talks."""
    return (bits[..., None] & _BITS) > 0


def alone(bits: np.ndarray) -> np.ndarray:
    """(..., F) bit sets -> (..., F, 3) bool: local speaker k talks and no other local speaker does."""
    active = unpack(bits)
    return active & (active.sum(axis=-1, keepdims=True) == 1)


def alone_frames(bits: np.ndarray) -> np.ndarray:
    """(W, 3) how many frames of each window each local speaker talks alone in (``bits``: (W, F))."""
    return alone(bits).sum(axis=-2)


def alone_samples(bits: np.ndarray, speaker: int, num_samples: int, start: int) -> np.ndarray:
    """Sample indices (on the file, below ``num_samples``) of one window's frames where local ``speaker``
    talks and no other local speaker does."""
    alone = bits == _BITS[speaker]
    frames = np.flatnonzero(alone)
    if not len(frames):
        return np.zeros(0, dtype=np.int64)
    first = start + FRAME_OFFSET_SAMPLES + frames * FRAME_STEP_SAMPLES
    out = (first[:, None] + np.arange(FRAME_STEP_SAMPLES)[None, :]).ravel()
    return out[out < num_samples]


def speaker_activation(
    tracks: LocalTracks, labels: np.ndarray, num_speakers: int, num_samples: int
) -> np.ndarray:
    """(frames, num_speakers) float32: per global frame, how much each speaker talks, the Hamming-weighted
    mean over the windows covering the frame of its local speakers' activity (``labels[w, k]``: the speaker
    of window w's local speaker k, -1 for none). Windows overlap, so a frame seen by two windows is talking
    at 1.0 when both hear the speaker and 0.5 when one does."""
    activity = FrameAggregator(num_samples, max(num_speakers, 1))
    for w, start in enumerate(tracks.starts):
        active = unpack(tracks.bits[w])
        values = np.zeros((len(active), activity.total.shape[1]), dtype=np.float32)
        for k in range(NUM_LOCAL_SPEAKERS):
            if labels[w, k] >= 0:
                values[:, labels[w, k]] += active[:, k]
        activity.add(int(start), values)
    return activity.result()
