"""Speaker turns from segmentation frames and clustered embedding windows (model-free).

Each ~17 ms segmentation frame inside a speech region takes the speaker of the nearest embedding window
(by centre time). Where segmentation counts two simultaneous speakers, the frame also gets a second
speaker: the nearest window in time whose speaker differs, up to 10 s away (overlap in hearings is mostly
interjections, back-channels and hand-overs, so the other voice is usually speaking shortly before or
after; a listener saying "yes" in the middle of a long statement last spoke several seconds earlier, and
without a second speaker those frames count as missed speech). So turns may overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from polsearch_assets.core.audio.speech_frames import FRAME_OFFSET_MS, SAMPLE_RATE, FrameScores
from polsearch_assets.core.contracts import Turn
from polsearch_assets.core.speakers.reconstruct import frame_speakers


@dataclass(frozen=True)
class WindowPlan:
    """Fixed-length embedding windows: start sample of each, and the region it was cut from."""

    starts: np.ndarray  # int64 sample offsets, sorted
    region: np.ndarray  # int index into the regions list
    length: int  # samples per window


def plan_windows(
    regions_ms: Sequence[tuple[int, int]],
    window_ms: int = 1500,
    hop_ms: int = 750,
    min_region_ms: int = 300,
    num_samples: int | None = None,
) -> WindowPlan:
    """Tile each speech region with windows; the last one is right-aligned so the region's end is seen.

    Regions shorter than a window get one window centred on them: a little surrounding audio is a
    better embedding than none, and the region still needs a speaker. Regions below `min_region_ms`
    (clicks, breaths) get none and are labelled later from their neighbours.
    """
    length = window_ms * SAMPLE_RATE // 1000
    hop = hop_ms * SAMPLE_RATE // 1000
    limit = num_samples if num_samples is not None else None
    starts: list[int] = []
    owners: list[int] = []
    for index, (start_ms, end_ms) in enumerate(regions_ms):
        if end_ms - start_ms < min_region_ms:
            continue
        a, b = start_ms * SAMPLE_RATE // 1000, end_ms * SAMPLE_RATE // 1000
        if b - a <= length:
            first = [max(0, (a + b - length) // 2)]
        else:
            first = list(range(a, b - length + 1, hop))
            if first[-1] + length < b:
                first.append(b - length)
        for s in first:
            if limit is not None:
                s = max(0, min(s, limit - length))
            starts.append(s)
            owners.append(index)
    return WindowPlan(np.asarray(starts, dtype=np.int64), np.asarray(owners, dtype=np.int64), length)


def frame_labels(
    frame_centers_ms: np.ndarray,
    speech: np.ndarray,
    window_centers_ms: np.ndarray,
    window_labels: np.ndarray,
) -> np.ndarray:
    """Speaker id per frame (-1 outside speech): the label of the window whose centre is nearest."""
    out = np.full(len(frame_centers_ms), -1, dtype=np.int64)
    if len(window_centers_ms) == 0:
        return out
    idx = np.searchsorted(window_centers_ms, frame_centers_ms)
    left = np.clip(idx - 1, 0, len(window_centers_ms) - 1)
    right = np.clip(idx, 0, len(window_centers_ms) - 1)
    pick_right = np.abs(window_centers_ms[right] - frame_centers_ms) < np.abs(
        window_centers_ms[left] - frame_centers_ms
    )
    nearest = np.where(pick_right, right, left)
    out[speech] = window_labels[nearest[speech]]
    return out


def second_labels(
    frame_centers_ms: np.ndarray,
    primary: np.ndarray,
    overlap: np.ndarray,
    window_centers_ms: np.ndarray,
    window_labels: np.ndarray,
    max_gap_ms: float,
) -> np.ndarray:
    """For overlap frames: the speaker of the nearest window (in time) labelled differently from the
    frame's primary speaker, if one lies within max_gap_ms; -1 elsewhere."""
    out = np.full(len(primary), -1, dtype=np.int64)
    for i in np.flatnonzero(overlap & (primary >= 0)):
        t = frame_centers_ms[i]
        lo = np.searchsorted(window_centers_ms, t - max_gap_ms)
        hi = np.searchsorted(window_centers_ms, t + max_gap_ms)
        cand = np.flatnonzero(window_labels[lo:hi] != primary[i])
        if len(cand):
            best = lo + cand[np.argmin(np.abs(window_centers_ms[lo + cand] - t))]
            out[i] = window_labels[best]
    return out


def label_runs(labels: np.ndarray, starts_ms: np.ndarray, ends_ms: np.ndarray) -> list[tuple[int, int, int]]:
    """(label, start_ms, end_ms) for runs of equal non-negative labels over consecutive frames."""
    if len(labels) == 0:
        return []
    change = np.flatnonzero(np.diff(labels) != 0) + 1
    bounds = np.concatenate([[0], change, [len(labels)]])
    return [
        (int(labels[a]), int(starts_ms[a]), int(ends_ms[b - 1]))
        for a, b in pairwise(bounds)
        if labels[a] >= 0
    ]


def build_turns(runs: list[tuple[int, int, int]]) -> list[Turn]:
    """Merge touching/overlapping runs of one speaker (named by its cluster id; numbering by first
    appearance is ``clustering.relabel_by_first_appearance``'s, as for every backend)."""
    merged: dict[int, list[list[int]]] = {}
    for label, start, end in sorted(runs, key=lambda r: (r[1], r[2])):
        spans = merged.setdefault(label, [])
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    turns = [Turn(str(lab), s, e) for lab, spans in merged.items() for s, e in spans]
    return sorted(turns, key=lambda t: (t.start_ms, t.end_ms, t.speaker))


def speech_frames(scores: FrameScores, regions_ms: list[tuple[int, int]]) -> np.ndarray:
    """Whether each frame's centre lies in a speech region."""
    n = len(scores.speech)
    centers = FRAME_OFFSET_MS + (np.arange(n) + 0.5) * scores.frame_step_ms
    speech = np.zeros(n, dtype=bool)
    for a, b in regions_ms:
        speech[np.searchsorted(centers, a) : np.searchsorted(centers, b)] = True
    return speech


def window_frame_labels(
    scores: FrameScores, regions_ms: list[tuple[int, int]], plan: WindowPlan, labels: np.ndarray
) -> np.ndarray:
    """Speaker per frame from the nearest CAM++ window (-1 outside speech), as ``assemble`` draws it."""
    n = len(scores.speech)
    centers = FRAME_OFFSET_MS + (np.arange(n) + 0.5) * scores.frame_step_ms
    window_centers = (plan.starts + plan.length / 2) * 1000.0 / SAMPLE_RATE
    return frame_labels(centers, speech_frames(scores, regions_ms), window_centers, labels)


def assemble(
    scores: FrameScores,
    regions_ms: list[tuple[int, int]],
    plan: WindowPlan,
    labels: np.ndarray,
    *,
    second_speaker_max_gap_ms: int,  # the diarizer's ``second_speaker_within_ms``: its one declaration
    overlap: bool = True,
    activation: np.ndarray | None = None,
    min_activation: float = 0.0,
) -> list[Turn]:
    """Turns from window speaker ids: each speech frame takes its nearest window's speaker; with ``overlap``,
    frames where segmentation counts two speakers also get the nearest other speaker in time. With
    ``activation`` (frames x speakers, from the local speakers: ``core/speakers/reconstruct``), the speakers
    it names above ``min_activation`` come first and the windows' fill in where it names fewer than the count."""
    n = len(scores.speech)
    starts_ms = FRAME_OFFSET_MS + np.arange(n) * scores.frame_step_ms
    ends_ms = starts_ms + scores.frame_step_ms
    centers = starts_ms + scores.frame_step_ms / 2
    speech = speech_frames(scores, regions_ms)
    window_centers = (plan.starts + plan.length / 2) * 1000.0 / SAMPLE_RATE
    primary = frame_labels(centers, speech, window_centers, labels)
    two = speech & (scores.speaker_count() >= 2) if overlap else np.zeros(n, dtype=bool)
    secondary = (
        second_labels(centers, primary, two, window_centers, labels, second_speaker_max_gap_ms)
        if overlap
        else np.full(n, -1, dtype=np.int64)
    )
    if activation is not None:
        count = speech.astype(np.int8) + two.astype(np.int8)
        primary, secondary = frame_speakers(activation[:n], count, primary, secondary, min_activation)
    return build_turns(label_runs(primary, starts_ms, ends_ms) + label_runs(secondary, starts_ms, ends_ms))
