"""People back on the timeline from segmentation's local speakers (model-free).

1. ``vote_local_speakers``: a local speaker (one voice inside one 10 s segmentation window) is the person
   the clustered CAM++ windows name over most of its solo frames, if that person holds ``purity`` of them
   (a local speaker that mixes two people names no one); ``confirmed_by_voice``: and only if its own
   embedding (its solo speech) is most like that person's windows too (mean cosine similarity).
2. ``frame_speakers``: per speech frame, the number of voices (segmentation's count, at least one) and
   which: the speakers whose local speakers are active over the windows covering the frame
   (``core/audio/local_speakers.speaker_activation``), at frame resolution instead of the 1.5 s windows'.
   Where the tracks name no one (or too few), the speakers drawn from the nearest CAM++ windows
   (``core/speakers/frames``) stay.
"""

from __future__ import annotations

import numpy as np

from polsearch_assets.core.audio.local_speakers import alone
from polsearch_assets.core.audio.speech_frames import NUM_LOCAL_SPEAKERS, LocalTracks, window_frames


def confirmed_by_voice(voted: np.ndarray, keys: np.ndarray, nearest: np.ndarray) -> np.ndarray:
    """``voted`` (W, 3) kept where the local speaker's own embedding is most like the same speaker's windows
    (``keys``: (N, 2) (window, local speaker) of the embedded ones, ``nearest``: (N,) their nearest
    speaker); -1 elsewhere, and for every local speaker without an embedding."""
    nearest_of = np.full_like(voted, -2)
    nearest_of[keys[:, 0], keys[:, 1]] = nearest
    return np.where(nearest_of == voted, voted, -1)


def vote_local_speakers(
    tracks: LocalTracks, frame_labels: np.ndarray, num_samples: int, purity: float
) -> np.ndarray:
    """(W, 3) speaker id of each window's local speakers by vote: the speaker the CAM++ windows give most of
    the frames where the local speaker talks alone (``frame_labels``: per global frame, -1 for none), if it
    holds at least ``purity`` of them; -1 otherwise (a local speaker that mixes voices names no one)."""
    out = np.full((len(tracks), NUM_LOCAL_SPEAKERS), -1, dtype=np.int64)
    size = int(frame_labels.max()) + 1 if len(frame_labels) else 0
    if size == 0:
        return out
    for w, start in enumerate(tracks.starts):
        first, count = window_frames(num_samples, int(start), tracks.bits.shape[1])
        if count <= 0:
            continue
        solo = alone(tracks.bits[w, :count])
        labels = frame_labels[first : first + count]
        for k in range(NUM_LOCAL_SPEAKERS):
            votes = np.bincount(labels[solo[:, k] & (labels >= 0)], minlength=size)
            if votes.sum() and votes.max() >= purity * votes.sum():
                out[w, k] = int(np.argmax(votes))
    return out


def frame_speakers(
    activation: np.ndarray,
    count: np.ndarray,
    primary: np.ndarray,
    second: np.ndarray,
    min_activation: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(first, second) speaker id per frame, -1 for none. ``count``: voices per frame (0 outside speech);
    ``primary``/``second``: the speakers drawn from the CAM++ windows, kept where the local tracks name no
    one (or, for a two-voice frame's second voice, no one else). A speaker is named in a frame where its
    activation exceeds ``min_activation``."""
    n = len(count)
    rows = np.arange(n)
    first = np.full(n, -1, dtype=np.int64)
    other = np.full(n, -1, dtype=np.int64)
    if activation.shape[1] == 0:
        activation = np.zeros((n, 1), dtype=np.float32)
    top = np.argmax(activation, axis=1)
    speech, two = count >= 1, count >= 2
    first[speech] = np.where(activation[rows, top] > min_activation, top, primary)[speech]
    # The most active speaker other than the first one, if the tracks name one.
    masked = activation.copy()
    masked[rows[first >= 0], first[first >= 0]] = -np.inf
    runner = np.argmax(masked, axis=1)
    fallback = np.where(second != first, second, np.where(primary != first, primary, -1))
    other[two] = np.where(masked[rows, runner] > min_activation, runner, fallback)[two]
    return first, other
