"""Speaker clustering of window embeddings, linear in the number of windows (pure numpy/scipy).

1. Spherical k-means squeezes N windows into at most `max_micro` micro-clusters (N x K work, not N^2);
   for short files every window is its own micro-cluster, so nothing is approximated there.
2. Average-linkage AHC over the micro-clusters, *exact* with respect to the windows: for unit
   vectors the mean pairwise cosine similarity between groups A and B equals sum(A)·sum(B)/(|A||B|),
   so tracking each group's vector sum reproduces window-level UPGMA. That keeps the stopping
   threshold calibrated the same way for a 5-minute clip and a 4-hour hearing.
3. Clusters with too little speech are folded into their most similar large cluster, then the
   result is forced into [min_speakers, max_speakers].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClusteringSettings:
    threshold: float = 0.5  # mean cosine similarity at which average-linkage merging stops
    min_speakers: int = 1
    max_speakers: int = 20
    max_micro: int = 400  # k-means micro-clusters above this many windows
    # A voice needs at least this many windows, and this share of all of them, or it joins its most similar
    # speaker: a fixed count folds away a member who speaks 10 s of a 30 s clip and lets stray clusters of
    # a 4-hour hearing through; a share of the windows does neither (chosen on real council voices).
    min_cluster_windows: int = 2
    min_cluster_share: float = 0.03
    # ...but a witness who speaks 3 minutes of a 4-hour hearing is a speaker: 100 windows (150 s) stays far
    # above the stray clusters of long hearings (at most 24 windows in a 4-hour run) and far below a voice.
    max_cluster_minimum: int = 100
    seed: int = 0


def normalize(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def spherical_kmeans(x: np.ndarray, k: int, iterations: int = 10, seed: int = 0) -> np.ndarray:
    """Labels in [0, k) for unit vectors x; k-means++-style seeding on cosine distance."""
    rng = np.random.default_rng(seed)
    n = len(x)
    centers = np.empty((k, x.shape[1]), dtype=x.dtype)
    centers[0] = x[rng.integers(n)]
    nearest = 1.0 - x @ centers[0]
    for i in range(1, k):
        p = np.maximum(nearest, 0.0) ** 2
        total = p.sum()
        j = rng.choice(n, p=p / total) if total > 0 else rng.integers(n)
        centers[i] = x[j]
        nearest = np.minimum(nearest, 1.0 - x @ centers[i])
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        labels = np.argmax(x @ centers.T, axis=1)
        sums = np.zeros_like(centers)
        np.add.at(sums, labels, x)
        empty = ~sums.any(axis=1)
        sums[empty] = centers[empty]  # keep empty centres where they were
        centers = normalize(sums)
    return np.argmax(x @ centers.T, axis=1)


def average_linkage(
    sums: np.ndarray, counts: np.ndarray, threshold: float, min_groups: int = 1
) -> np.ndarray:
    """Exact UPGMA on groups given by (vector sum, size); merges while the best similarity >= threshold.

    Returns the final group id of every input group. O(K^2) memory, O(K^2) per merge (K <= a few hundred).
    """
    k = len(sums)
    sums = sums.astype(np.float64).copy()
    counts = counts.astype(np.float64).copy()
    sim = (sums @ sums.T) / np.outer(counts, counts)
    np.fill_diagonal(sim, -np.inf)
    alive = np.ones(k, dtype=bool)
    owner = np.arange(k)
    groups = k
    while groups > min_groups:
        flat = int(np.argmax(sim))
        a, b = divmod(flat, k)
        if sim[a, b] < threshold:
            break
        sums[a] += sums[b]
        counts[a] += counts[b]
        alive[b] = False
        owner[owner == b] = a
        row = (sums @ sums[a]) / (counts * counts[a])
        row[~alive] = -np.inf
        row[a] = -np.inf
        sim[a, :] = row
        sim[:, a] = row
        sim[b, :] = -np.inf
        sim[:, b] = -np.inf
        groups -= 1
    _, labels = np.unique(owner, return_inverse=True)
    return labels


def large_clusters(ids: np.ndarray, sizes: np.ndarray, min_size: int, keep_at_least: int) -> np.ndarray:
    """The ids of clusters with at least ``min_size`` windows; when fewer than ``keep_at_least`` (and at least
    one) are, the largest that many: folding never goes below the requested minimum speaker count."""
    large = ids[sizes >= min_size]
    if len(large) < max(keep_at_least, 1):
        large = ids[np.argsort(-sizes)[: max(keep_at_least, 1)]]
    return large


def fold_small(x: np.ndarray, labels: np.ndarray, min_size: int, keep_at_least: int) -> np.ndarray:
    """Move windows of clusters smaller than min_size to the most similar large cluster."""
    ids, sizes = np.unique(labels, return_counts=True)
    large = large_clusters(ids, sizes, min_size, keep_at_least)
    if len(large) == len(ids):
        return labels
    centroids = normalize(np.stack([x[labels == c].sum(axis=0) for c in large]))
    small = ~np.isin(labels, large)
    # A small cluster moves as a whole (its windows are the same voice) to the closest large one.
    out = labels.copy()
    for c in np.unique(labels[small]):
        member = labels == c
        out[member] = large[int(np.argmax(centroids @ normalize(x[member].sum(axis=0))))]
    return out


def cluster(embeddings: np.ndarray, settings: ClusteringSettings | None = None) -> np.ndarray:
    """Speaker id per window (0..k-1), k estimated within [min_speakers, max_speakers]."""
    cfg = settings or ClusteringSettings()
    if not 1 <= cfg.min_speakers <= cfg.max_speakers:
        raise ValueError(
            f"need 1 <= min_speakers <= max_speakers, got {cfg.min_speakers}, {cfg.max_speakers}"
        )
    n = len(embeddings)
    if n < 2:
        return np.zeros(n, dtype=np.int64)
    x = normalize(np.asarray(embeddings, dtype=np.float64))
    micro = spherical_kmeans(x, cfg.max_micro, seed=cfg.seed) if n > cfg.max_micro else np.arange(n)
    _, micro = np.unique(micro, return_inverse=True)
    sums = np.zeros((micro.max() + 1, x.shape[1]))
    np.add.at(sums, micro, x)
    counts = np.bincount(micro).astype(np.float64)
    group = average_linkage(sums, counts, cfg.threshold, min_groups=min(cfg.min_speakers, len(sums)))
    labels = group[micro]
    min_size = min(cfg.max_cluster_minimum, max(cfg.min_cluster_windows, round(cfg.min_cluster_share * n)))
    return cap_speakers(x, fold_small(x, labels, min_size, cfg.min_speakers), cfg.max_speakers)


def cap_speakers(x: np.ndarray, labels: np.ndarray, max_speakers: int) -> np.ndarray:
    """Labels renumbered 0..k-1 with k <= max_speakers: too many voices continue the same average linkage
    past its threshold down to the cap."""
    _, labels = np.unique(labels, return_inverse=True)
    if labels.max() + 1 > max_speakers:
        sums = np.zeros((labels.max() + 1, x.shape[1]))
        np.add.at(sums, labels, x)
        labels = average_linkage(sums, np.bincount(labels).astype(np.float64), -np.inf, max_speakers)[labels]
    return labels.astype(np.int64)
