"""How many speakers, judged against each recording's own voices instead of a threshold tuned on one kind of audio.

How similar two CAM++ windows of the *same* voice are depends on the room, the microphone, the codec and the
person: 0.47-0.5 in one simulated meeting with quick exchanges, 0.63-0.68 on a phone line or a clean reading
(BENCHMARKS.md, "Speakers in meetings"). A fixed stopping similarity therefore splits people where voices vary
more and merges them where they vary less. So every decision here is relative:

1. **The recording's own same-voice similarity**: consecutive windows of one speech region are almost always
   one voice; their median similarity is the yardstick.
2. **Average linkage** (``average_linkage.cluster``, exact at window level, over <= 400 micro-clusters, so a
   4-hour hearing stays bounded) stops at ``split_fraction`` of that yardstick: deliberately a little eager
   to split, so each cluster is one voice; crumbs of fewer than ``min_cluster_windows`` join their nearest.
   Nothing is folded by its share of the recording here: in a long hearing one person's voice comes out
   in several pieces under 3 % of the windows each, and folding each piece into its nearest *other* voice
   (as this step once did) gave a 40-minute, 9-voice council hearing 8 speakers (BENCHMARKS.md).
3. **Cohesion merging**: two clusters are one voice when their mean cross similarity is at least
   ``merge_fraction`` of the geometric mean of their own within-cluster similarities: each pair of
   voices is measured against how alike each voice is to itself, so a tight reader and a loose far voice
   are both judged fairly.
4. **Too little speech**: a speaker with fewer than ``min_speaker_windows`` windows (7.5 s), or under
   ``min_speaker_share`` of a long hearing, is too little to know a voice by (a back-channel, a split-off
   phrase) and joins its most similar speaker, **unless it is clearly another voice**: its mean similarity
   to every larger speaker under ``distinct_fraction`` of the yardstick (a member who speaks 5 s of a
   30 s clip).
5. **Two voices at once**: where segmentation-3.0 hears two simultaneous voices (its per-frame count
   rounds to 2) for at least ``two_voices_s`` seconds in all and ``two_voices_share`` of its speech,
   the recording cannot be one speaker: at least two are kept through every step. In a short real meeting a minor speaker often talks mostly
   over others, has too few windows of its own to be told apart, and without this every voice merged
   into one (AMI excerpts, issue 24); a lone speaker's stray two-voice frames stay under it.

The fractions and counts were chosen together on development meetings under five recording conditions and
the pyannote sample, and checked on held-out meetings and conditions (BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from polsearch_assets.core.speakers.average_linkage import (
    ClusteringSettings,
    cap_speakers,
    cluster,
    large_clusters,
    normalize,
)


@dataclass(frozen=True)
class SpeakerCountSettings:
    min_speakers: int = 1
    max_speakers: int = 15
    split_fraction: float = 0.85
    merge_fraction: float = 0.82
    # Crumbs of 2 windows (3 s) go on to cohesion merging and the small-speaker fold instead of joining their
    # nearest cluster at once: a minor speaker of a short real meeting may have no more (AMI DEV, issue 24).
    min_cluster_windows: int = 2
    min_speaker_windows: int = 5
    # A small speaker this far from every larger one (mean similarity / own) is another voice, kept.
    distinct_fraction: float = 0.57
    # As in average_linkage: at least this share of the windows, but never more than this many windows.
    min_speaker_share: float = 0.03
    max_speaker_minimum: int = 100
    # Fewer consecutive pairs than this (a few seconds of speech): every pair of windows is the yardstick.
    min_pairs: int = 3
    # Seconds of frames where segmentation hears two voices at once from which >= 2 speakers are kept
    # (0: never). Chosen on the AMI DEV excerpts and the lone speakers: flagged AMI excerpts have 1.5-7.1 s,
    # a lone speaker at most 0.3 s (BENCHMARKS.md, "Real meetings").
    two_voices_s: float = 1.0
    # ... and at least this share of the speech (a long lone speaker's stray frames add up in seconds).
    two_voices_share: float = 0.02


def own_voice_similarity(embeddings: np.ndarray, regions: np.ndarray, min_pairs: int = 3) -> float | None:
    """Median cosine similarity of consecutive windows within one speech region (``regions``: each window's
    region id, windows in time order); every pair's median when there are too few; None under 2 windows."""
    if len(embeddings) < 2:
        return None
    x = normalize(np.asarray(embeddings, dtype=np.float64))
    same_region = np.asarray(regions)[1:] == np.asarray(regions)[:-1]
    consecutive = np.sum(x[1:] * x[:-1], axis=1)[same_region]
    if len(consecutive) >= min_pairs:
        return float(np.median(consecutive))
    return float(np.median((x @ x.T)[np.triu_indices(len(x), 1)]))


def merge_by_cohesion(
    x: np.ndarray, labels: np.ndarray, own: float, fraction: float, min_groups: int = 1
) -> np.ndarray:
    """Merge clusters (most alike first) while cross similarity >= ``fraction`` x sqrt(within_a x within_b);
    a one-window cluster's within similarity is ``own``."""
    k = int(labels.max()) + 1
    sums = np.stack([x[labels == c].sum(axis=0) for c in range(k)])
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    alive = np.ones(k, dtype=bool)
    owner = np.arange(k)
    while alive.sum() > min_groups:
        ids = np.flatnonzero(alive)
        n = counts[ids]
        within = np.where(
            n >= 2, (np.einsum("ij,ij->i", sums[ids], sums[ids]) - n) / np.maximum(n * (n - 1), 1), own
        )
        within = np.maximum(within, 1e-3)
        ratio = (sums[ids] @ sums[ids].T) / np.outer(n, n) / np.sqrt(np.outer(within, within))
        np.fill_diagonal(ratio, -np.inf)
        a, b = divmod(int(np.argmax(ratio)), len(ids))
        if ratio[a, b] < fraction:
            break
        keep, gone = ids[a], ids[b]
        sums[keep] += sums[gone]
        counts[keep] += counts[gone]
        alive[gone] = False
        owner[owner == gone] = keep
    return owner[labels]


def two_voices(cfg: SpeakerCountSettings, two_voices_s: float, speech_s: float) -> bool:
    """Whether segmentation heard two voices at once long enough for the recording to hold two speakers."""
    if cfg.two_voices_s <= 0 or two_voices_s < cfg.two_voices_s:
        return False
    return two_voices_s >= cfg.two_voices_share * speech_s


def count_speakers(
    embeddings: np.ndarray,
    regions: np.ndarray,
    settings: SpeakerCountSettings | None = None,
    two_voices_s: float = 0.0,
    speech_s: float = 0.0,
) -> np.ndarray:
    """Speaker id per window (0..k-1), k found within [min_speakers, max_speakers]. ``two_voices_s``:
    seconds where segmentation hears two voices at once, of ``speech_s`` seconds of speech; at least
    ``settings.two_voices_s`` and ``settings.two_voices_share`` of the speech: >= 2 speakers."""
    cfg = settings or SpeakerCountSettings()
    if not 1 <= cfg.min_speakers <= cfg.max_speakers:
        raise ValueError(
            f"need 1 <= min_speakers <= max_speakers, got {cfg.min_speakers}, {cfg.max_speakers}"
        )
    n = len(embeddings)
    if two_voices(cfg, two_voices_s, speech_s) and n >= 2:
        cfg = replace(cfg, min_speakers=min(max(cfg.min_speakers, 2), cfg.max_speakers))
    own = own_voice_similarity(embeddings, regions, cfg.min_pairs)
    if own is None:
        return np.zeros(n, dtype=np.int64)
    x = normalize(np.asarray(embeddings, dtype=np.float64))
    labels = cluster(
        x,
        ClusteringSettings(
            threshold=cfg.split_fraction * own,
            min_speakers=cfg.min_speakers,
            max_speakers=n,  # the cap applies to voices, after cohesion merging
            min_cluster_windows=cfg.min_cluster_windows,
            min_cluster_share=0.0,
        ),
    )
    labels = merge_by_cohesion(x, labels, own, cfg.merge_fraction, cfg.min_speakers)
    minimum = min(cfg.max_speaker_minimum, max(cfg.min_speaker_windows, round(cfg.min_speaker_share * n)))
    labels = fold_unreliable(x, labels, minimum, cfg.distinct_fraction * own, cfg.min_speakers)
    return cap_speakers(x, labels, cfg.max_speakers)


def fold_unreliable(
    x: np.ndarray, labels: np.ndarray, min_size: int, distinct_below: float, keep_at_least: int
) -> np.ndarray:
    """Each speaker under ``min_size`` windows joins the larger speaker it is most similar to (mean cosine
    of their windows), unless even that similarity is under ``distinct_below``: then it is another voice."""
    ids, sizes = np.unique(labels, return_counts=True)
    large = large_clusters(ids, sizes, min_size, keep_at_least)
    big = np.searchsorted(ids, large)  # ids are sorted: positions of the large clusters
    sums = np.stack([x[labels == c].sum(axis=0) for c in ids])
    counts = sizes.astype(np.float64)
    out = labels.copy()
    for i in np.flatnonzero(~np.isin(ids, large)):
        similarity = (sums[big] @ sums[i]) / (counts[big] * counts[i])
        if similarity.max() >= distinct_below:
            out[labels == ids[i]] = large[int(np.argmax(similarity))]
    return out
