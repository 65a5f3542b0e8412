"""Speaker clustering: window embeddings over a whole hearing -> global speaker turns.

Agglomerative clustering (average linkage, cosine distance) on at most
``max_ahc_points`` windows estimates the number of speakers with a distance
threshold (clamped to the expected range), then every window is assigned to
the nearest refined centroid. Clustering is global over the hearing, so one
voice keeps one label from the first hour to the last; labels are numbered
by first appearance (``SPEAKER_0`` speaks first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from polsearch_assets.core.contracts import Diarization, SpeakerFrames, Turn, Voice, VoicePart


@dataclass(frozen=True)
class ClusteringSettings:
    threshold: float = 0.3  # cosine distance at which clusters stop merging
    min_speakers: int = 1
    max_speakers: int = 15
    max_ahc_points: int = 3000  # AHC is O(n^2) memory: larger hearings are subsampled, then assigned
    min_cluster_size: int = (
        8  # windows; smaller clusters (noise, overlap, coughs) join their nearest neighbour
    )
    refine_iterations: int = 3


@dataclass(frozen=True)
class WindowSpan:
    """An embedding window: its centre, and the speech region (ms) it belongs to."""

    region: int
    center_ms: int


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-9)


def _centroids(embeddings: np.ndarray, labels: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    return _normalize(np.stack([embeddings[labels == c].mean(axis=0) for c in ids]))


def cluster_embeddings(embeddings: np.ndarray, settings: ClusteringSettings) -> np.ndarray:
    """Cluster ids (0..k-1) for speaker embeddings, one per row; k is estimated, within the settings' bounds."""
    from scipy.cluster.hierarchy import fcluster, linkage

    if not 1 <= settings.min_speakers <= settings.max_speakers:
        raise ValueError(
            f"need 1 <= min_speakers <= max_speakers, got {settings.min_speakers}, {settings.max_speakers}"
        )
    count = len(embeddings)
    if count < 2:
        return np.zeros(count, dtype=int)
    vectors = _normalize(np.asarray(embeddings, dtype=np.float64))
    seeds = vectors[
        np.unique(np.linspace(0, count - 1, min(count, settings.max_ahc_points)).round().astype(int))
    ]
    tree = linkage(seeds, method="average", metric="cosine")
    seed_labels = _drop_small_clusters(
        seeds, fcluster(tree, t=settings.threshold, criterion="distance") - 1, settings
    )
    if seed_labels.max() + 1 < settings.min_speakers:
        seed_labels = fcluster(tree, t=min(settings.min_speakers, len(seeds)), criterion="maxclust") - 1
    centroids = _centroids(seeds, seed_labels, range(int(seed_labels.max()) + 1))
    while len(centroids) > settings.max_speakers:  # merge the two closest voices
        similarity = centroids @ centroids.T
        np.fill_diagonal(similarity, -np.inf)
        a, b = np.unravel_index(np.argmax(similarity), similarity.shape)
        centroids = _normalize(np.delete(np.vstack([centroids, centroids[a] + centroids[b]]), [a, b], axis=0))
    labels = np.argmax(vectors @ centroids.T, axis=1)
    for _ in range(settings.refine_iterations):  # k-means steps over every window, not just the seeds
        labels = _drop_small_clusters(vectors, labels, settings)
        labels = np.argmax(vectors @ _centroids(vectors, labels, range(int(labels.max()) + 1)).T, axis=1)
    return _drop_small_clusters(vectors, labels, settings)


def _drop_small_clusters(vectors: np.ndarray, labels: np.ndarray, settings: ClusteringSettings) -> np.ndarray:
    """Members of clusters under ``min_cluster_size`` join the nearest remaining cluster; ids become 0..k-1.

    At least ``min_speakers`` of the largest clusters always remain.
    """
    sizes = np.bincount(labels)
    order = [c for c in np.argsort(-sizes) if sizes[c] > 0]
    keep = [c for c in order if sizes[c] >= settings.min_cluster_size]
    if len(keep) < settings.min_speakers:  # the expected minimum wins over the size rule
        keep = order[: settings.min_speakers]
    centroids = _centroids(vectors, labels, keep)
    remap = np.full(len(sizes), -1)
    remap[keep] = np.arange(len(keep))
    result = remap[labels]
    orphans = result < 0
    if orphans.any():
        result[orphans] = np.argmax(vectors[orphans] @ centroids.T, axis=1)
    return result


def smooth_labels(labels: Sequence[int], spans: Sequence[WindowSpan], width: int = 3) -> np.ndarray:
    """Majority vote over ``width`` neighbouring windows of the same region: removes one-window flips."""
    labels = np.asarray(labels)
    smoothed = labels.copy()
    half = width // 2
    for i in range(len(labels)):
        lo, hi = max(0, i - half), min(len(labels), i + half + 1)
        neighbours = [labels[j] for j in range(lo, hi) if spans[j].region == spans[i].region]
        values, counts = np.unique(neighbours, return_counts=True)
        if counts.max() > len(neighbours) // 2:
            smoothed[i] = values[np.argmax(counts)]
    return smoothed


def turns_from_windows(
    regions: Sequence[tuple[int, int]],
    spans: Sequence[WindowSpan],
    labels: Sequence[int],
    voices: Mapping[str, np.ndarray] | None = None,
    voice_encoder: str | None = None,
    parts: Mapping[str, tuple[VoicePart, ...]] | None = None,
) -> Diarization:
    """Speaker turns covering the speech regions: each window speaks for the part of its region nearest its centre."""
    raw: list[Turn] = []
    by_region: dict[int, list[tuple[int, int]]] = {}
    for span, label in zip(spans, labels, strict=True):
        by_region.setdefault(span.region, []).append((span.center_ms, int(label)))
    for region, windows in sorted(by_region.items()):
        start_ms, end_ms = regions[region]
        windows.sort()
        for i, (center, label) in enumerate(windows):
            left = start_ms if i == 0 else (windows[i - 1][0] + center) // 2
            right = end_ms if i == len(windows) - 1 else (center + windows[i + 1][0]) // 2
            if right <= left:
                continue
            if raw and raw[-1].speaker == str(label) and raw[-1].end_ms == left:
                raw[-1] = Turn(raw[-1].speaker, raw[-1].start_ms, right)
            else:
                raw.append(Turn(str(label), left, right))
    return relabel_by_first_appearance(raw, voices=voices, voice_encoder=voice_encoder)


def relabel_by_first_appearance(
    turns: Sequence[Turn],
    frames: SpeakerFrames | None = None,
    voices: Mapping[str, np.ndarray] | None = None,
    voice_encoder: str | None = None,
    parts: Mapping[str, tuple[VoicePart, ...]] | None = None,
) -> Diarization:
    """``SPEAKER_0`` is whoever speaks first, and so on. ``frames`` (columns named like the turns'
    speakers) follow the renaming: columns reordered to the new speakers, a speaker with no turn dropped.
    ``voices`` (an embedding per turn label, from ``voice_encoder``) become the speakers' ``Voice``s:
    L2-normalised, with each speaker's speaking time and its ``parts`` (same labels as ``voices``)."""
    names: dict[str, str] = {}
    for turn in sorted(turns, key=lambda t: (t.start_ms, t.end_ms)):
        names.setdefault(turn.speaker, f"SPEAKER_{len(names)}")
    relabelled = tuple(
        sorted((Turn(names[t.speaker], t.start_ms, t.end_ms) for t in turns), key=lambda t: t.start_ms)
    )
    if frames is not None:
        column = {name: j for j, name in enumerate(frames.speakers)}
        frames = SpeakerFrames(
            frames.frame_ms,
            tuple(names.values()),
            frames.probabilities[:, [column[old] for old in names]],
        )
    result = Diarization(speakers=tuple(names.values()), turns=relabelled, frames=frames)
    if voices is None:
        return result
    talk = result.speaking_ms()
    kept = tuple(
        Voice(
            new,
            talk[new],
            _normalize(np.asarray(voices[old], dtype=np.float32)[None, :])[0],
            (parts or {}).get(old, ()),
        )
        for old, new in names.items()
        if old in voices
    )
    return replace(result, voices=kept, voice_encoder=voice_encoder)


def mean_voices(embeddings: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Each cluster's voice (named like its turns, ``str(id)``): the mean of its unit-length embeddings."""
    vectors = _normalize(np.asarray(embeddings, dtype=np.float64))
    return {str(c): vectors[labels == c].mean(axis=0) for c in np.unique(labels)}


# A speaker with fewer windows is not split in two: each half would be a few seconds, too little to judge.
MIN_PART_WINDOWS = 8


def voice_parts(
    embeddings: np.ndarray, labels: np.ndarray, iterations: int = 20
) -> dict[str, tuple[VoicePart, ...]]:
    """Each cluster's windows split in two by spherical 2-means (named like ``mean_voices``' voices).

    A cluster of one person splits into two halves of the same voice; a cluster that holds two people
    splits, mostly, along the people. Deterministic: the halves start from the window least like the
    cluster's mean and the window least like that one."""
    vectors = _normalize(np.asarray(embeddings, dtype=np.float64))
    found: dict[str, tuple[VoicePart, ...]] = {}
    for c in np.unique(labels):
        members = vectors[labels == c]
        if len(members) < MIN_PART_WINDOWS:
            continue
        first = members[np.argmin(members @ _normalize(members.mean(axis=0)[None, :])[0])]
        centres = np.stack([first, members[np.argmin(members @ first)]])
        halves = np.zeros(len(members), dtype=np.int64)
        for _ in range(iterations):
            halves = np.argmax(members @ centres.T, axis=1)
            if len(np.unique(halves)) < 2:
                break
            updated = _normalize(np.stack([members[halves == k].mean(axis=0) for k in (0, 1)]))
            if np.allclose(updated, centres):
                break
            centres = updated
        if len(np.unique(halves)) < 2:
            continue
        found[str(c)] = tuple(
            VoicePart(float((halves == k).mean()), centres[k].astype(np.float32)) for k in (0, 1)
        )
    return found
