"""Windowed diarization -> one set of speakers for the whole hearing.

A Sortformer-4spk model tracks at most 4 speakers per pass, and a hearing has up to 15 over hours.
So the hearing is diarized in overlapping windows, each with its own local labels, and the local
speakers are then linked into global identities by their voice embeddings:

* ``diarization_windows`` cuts the timeline into windows that overlap by a margin;
* ``link_speakers`` clusters the (window, local speaker) pairs agglomeratively on the cosine
  distance of speech-weighted centroids, with a cannot-link rule: two speakers the model told
  apart inside one window are never merged;
* ``stitch_turns`` keeps each window's turns only in its own core (overlaps split at their
  middle) and renames them to the global identities; ``stitch_frames`` does the same with the
  model's per-frame speaker probabilities.

Numbering by first appearance (``SPEAKER_0`` speaks first) is done afterwards on the turns, by
``speaker_clustering.relabel_by_first_appearance``, as for every backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from polsearch_assets.core.contracts import SpeakerFrames, Turn


@dataclass(frozen=True)
class Window:
    index: int
    start_ms: int
    end_ms: int
    core_start_ms: int  # the part of the timeline this window's turns are kept for
    core_end_ms: int


def diarization_windows(duration_ms: int, window_ms: int, overlap_ms: int) -> list[Window]:
    """Windows of ``window_ms`` covering [0, duration_ms), consecutive ones overlapping by ``overlap_ms``;
    ``window_ms`` 0: one window over the whole hearing."""
    if duration_ms <= 0:
        return []
    if window_ms == 0:
        return [Window(0, 0, duration_ms, 0, duration_ms)]
    if not 0 <= overlap_ms < window_ms:
        raise ValueError(f"need 0 <= overlap_ms < window_ms, got {overlap_ms}, {window_ms}")
    step = window_ms - overlap_ms
    starts = list(range(0, max(duration_ms - overlap_ms, 1), step))
    windows = []
    for index, start in enumerate(starts):
        end = min(start + window_ms, duration_ms)
        core_start = 0 if index == 0 else start + overlap_ms // 2
        core_end = duration_ms if index == len(starts) - 1 else starts[index + 1] + overlap_ms // 2
        windows.append(Window(index, start, end, core_start, core_end))
    return windows


@dataclass(frozen=True)
class LocalSpeaker:
    """One speaker as one window's diarization saw it."""

    window: int
    label: str
    embedding: np.ndarray  # voice embedding of this speaker's speech in the window
    speech_ms: int  # its weight in a cluster's centroid


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


def link_speakers(
    speakers: Sequence[LocalSpeaker], threshold: float, max_speakers: int
) -> dict[tuple[int, str], int]:
    """Global id for each (window, local label): merge closest first while the cosine distance is at
    most ``threshold`` (or while there are more than ``max_speakers`` clusters), never across a
    cannot-link."""
    if max_speakers < 1:
        raise ValueError(f"max_speakers must be at least 1, got {max_speakers}")
    clusters = [
        {"members": [i], "windows": {s.window}, "weighted": _unit(s.embedding) * max(s.speech_ms, 1)}
        for i, s in enumerate(speakers)
    ]
    while len(clusters) > 1:
        best: tuple[float, int, int] | None = None
        centroids = [_unit(c["weighted"]) for c in clusters]
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                if clusters[a]["windows"] & clusters[b]["windows"]:
                    continue  # the model separated these two inside one window
                distance = 1.0 - float(centroids[a] @ centroids[b])
                if best is None or distance < best[0]:
                    best = (distance, a, b)
        if best is None or (best[0] > threshold and len(clusters) <= max_speakers):
            break
        _, a, b = best
        clusters[a] = {
            "members": clusters[a]["members"] + clusters[b]["members"],
            "windows": clusters[a]["windows"] | clusters[b]["windows"],
            "weighted": clusters[a]["weighted"] + clusters[b]["weighted"],
        }
        del clusters[b]
    return {
        (speakers[i].window, speakers[i].label): cluster_id
        for cluster_id, cluster in enumerate(clusters)
        for i in cluster["members"]
    }


def stitch_turns(
    windows: Sequence[Window],
    window_turns: Mapping[int, Sequence[Turn]],
    identities: Mapping[tuple[int, str], int],
) -> list[Turn]:
    """Every window's turns (global timeline) clipped to its core, renamed ``G<id>``, in time order."""
    stitched = []
    for window in windows:
        for turn in window_turns.get(window.index, ()):
            start, end = max(turn.start_ms, window.core_start_ms), min(turn.end_ms, window.core_end_ms)
            if end > start:
                stitched.append(Turn(global_name(identities[(window.index, turn.speaker)]), start, end))
    return sorted(stitched, key=lambda t: (t.start_ms, t.end_ms, t.speaker))


def global_name(identity: int) -> str:
    return f"G{identity}"


def stitch_frames(
    windows: Sequence[Window],
    window_probabilities: Mapping[int, np.ndarray],
    local_labels: Sequence[str],
    identities: Mapping[tuple[int, str], int],
    duration_ms: int,
    frame_ms: int,
) -> SpeakerFrames:
    """Every window's per-frame probabilities (``[frames, len(local_labels)]``, its frame 0 at the
    window's start) kept in the window's core, as columns of the global identities ``G<id>``.

    Global frame ``i`` starts at ``i * frame_ms`` and is taken from the window whose core holds that
    start; a local speaker with no identity (it never reached a turn) is left out.
    """
    ids = sorted(set(identities.values()))
    column = {identity: j for j, identity in enumerate(ids)}
    frames = -(-duration_ms // frame_ms)
    probabilities = np.zeros((frames, len(ids)), dtype=np.float32)
    for window in windows:
        local = window_probabilities.get(window.index)
        first, last = -(-window.core_start_ms // frame_ms), min(frames, -(-window.core_end_ms // frame_ms))
        if local is None or not len(local) or last <= first:
            continue
        rows = np.clip(
            np.round((np.arange(first, last) * frame_ms - window.start_ms) / frame_ms).astype(int),
            0,
            len(local) - 1,
        )
        for k, label in enumerate(local_labels[: local.shape[1]]):
            identity = identities.get((window.index, label))
            if identity is not None:
                target = probabilities[first:last, column[identity]]
                np.maximum(target, local[rows, k], out=target)
    return SpeakerFrames(frame_ms, tuple(global_name(i) for i in ids), probabilities)
