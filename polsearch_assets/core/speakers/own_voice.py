"""Where to stop merging voices, measured on each recording instead of tuned on one kind of audio.

How similar two windows of the *same* voice are depends on the room, the microphone, the codec and the
person: the same CAM++ windows score 0.6-0.65 apart on a clean line and 0.47-0.5 in a meeting with quick
exchanges (BENCHMARKS.md, "Speakers in meetings"). A fixed stopping similarity therefore splits people
where voices vary more and merges them where they vary less. Consecutive windows of one speech region are
almost always one voice, so their median similarity is this recording's own same-voice similarity; the
clustering stops merging at a fixed fraction of it. The fraction is relative, so it carries across rooms;
it was chosen on development meetings under five recording conditions at once and checked on held-out
meetings and conditions.
"""

from __future__ import annotations

import numpy as np

# Average linkage stops merging below this fraction of the recording's own same-voice similarity.
RELATIVE_THRESHOLD = 0.8
# Fewer consecutive pairs than this (a few seconds of speech): every pair of windows is used instead.
MIN_PAIRS = 3


def own_voice_similarity(embeddings: np.ndarray, regions: np.ndarray) -> float | None:
    """Median cosine similarity of consecutive windows within one speech region (``regions``: each window's
    region id, windows in time order); every pair's median when there are too few; None under 2 windows."""
    if len(embeddings) < 2:
        return None
    x = np.asarray(embeddings, dtype=np.float64)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)
    same_region = np.asarray(regions)[1:] == np.asarray(regions)[:-1]
    consecutive = np.sum(x[1:] * x[:-1], axis=1)[same_region]
    if len(consecutive) >= MIN_PAIRS:
        return float(np.median(consecutive))
    return float(np.median((x @ x.T)[np.triu_indices(len(x), 1)]))


def stopping_similarity(
    embeddings: np.ndarray, regions: np.ndarray, fraction: float = RELATIVE_THRESHOLD
) -> float:
    """The mean cosine similarity at which average linkage stops merging on this recording."""
    own = own_voice_similarity(embeddings, regions)
    return 1.0 if own is None else fraction * own
