"""Frame speech probabilities -> speech regions in ms (pure numpy, model-free).

Hysteresis: a region opens when the probability rises above `onset` and closes only when it falls
below `offset` (< onset), so a probability hovering near one threshold does not chatter. Then short
gaps are bridged, short blips dropped, and regions padded (ASR and embeddings both want a little
context around the words).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RegionSettings:
    onset: float = 0.5
    offset: float = 0.35
    min_speech_ms: int = 250
    min_silence_ms: int = 300
    pad_ms: int = 100


def hysteresis(prob: np.ndarray, onset: float, offset: float) -> np.ndarray:
    """Boolean activity per frame with two thresholds (vectorised: state = last threshold crossing)."""
    if offset > onset:
        raise ValueError("offset must not exceed onset")
    high, low = prob > onset, prob < offset
    # Index of the last frame that was decisively high or low; the state follows whichever was later.
    idx = np.arange(len(prob))
    last_high = np.maximum.accumulate(np.where(high, idx, -1))
    last_low = np.maximum.accumulate(np.where(low, idx, -1))
    return last_high > last_low


def runs(active: np.ndarray) -> np.ndarray:
    """(n, 2) [start, end) frame indices of the True runs."""
    padded = np.concatenate([[False], active.astype(bool), [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges.reshape(-1, 2)


def merge_regions(regions: list[tuple[int, int]], max_gap_ms: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(regions):
        if merged and start - merged[-1][1] <= max_gap_ms:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def speech_regions(
    prob: np.ndarray,
    frame_step_ms: float,
    frame_offset_ms: float = 0.0,
    settings: RegionSettings | None = None,
    total_ms: int | None = None,
) -> list[tuple[int, int]]:
    """Speech regions (start_ms, end_ms), sorted and non-overlapping.

    Frame i is taken to span [offset + i*step, offset + (i+1)*step) ms.
    """
    cfg = settings or RegionSettings()
    spans = runs(hysteresis(np.asarray(prob, dtype=np.float32), cfg.onset, cfg.offset))
    regions = [
        (round(frame_offset_ms + a * frame_step_ms), round(frame_offset_ms + b * frame_step_ms))
        for a, b in spans
    ]
    # Bridge pauses first so a word split by a short dip is not dropped as two tiny blips.
    regions = merge_regions(regions, cfg.min_silence_ms)
    regions = [(a, b) for a, b in regions if b - a >= cfg.min_speech_ms]
    end_limit = total_ms if total_ms is not None else 2**62
    padded = [(max(0, a - cfg.pad_ms), min(end_limit, b + cfg.pad_ms)) for a, b in regions]
    return merge_regions(padded, 0)
