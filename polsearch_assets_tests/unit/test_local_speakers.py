"""Segmentation's local speakers: hard decoding, storage, solo samples, activation on the timeline, and the
people put back per frame (hand-made arrays; ``core/audio/local_speakers``, ``core/speakers/reconstruct``)."""

import numpy as np

from polsearch_assets.core.audio.local_speakers import (
    FRAME_OFFSET_SAMPLES,
    alone_frames,
    alone_samples,
    hard_decode,
    speaker_activation,
    unpack,
)
from polsearch_assets.core.audio.speech_frames import (
    FRAME_STEP_SAMPLES,
    FRAMES_PER_WINDOW,
    FrameScores,
    LocalTracks,
    num_global_frames,
    powerset_mapping,
)
from polsearch_assets.core.speakers.reconstruct import (
    confirmed_by_voice,
    frame_speakers,
    vote_local_speakers,
)


def test_hard_decode_names_the_local_speakers_of_the_most_likely_class() -> None:
    """Classes {}, {0}, {1}, {2}, {0,1}, {0,2}, {1,2} -> bit sets 0, 1, 2, 4, 3, 5, 6."""
    log_probs = np.log(np.full((1, 7, 7), 0.01, dtype=np.float32))
    for frame in range(7):
        log_probs[0, frame, frame] = 0.0
    bits = hard_decode(log_probs, powerset_mapping())
    assert bits.tolist() == [[0, 1, 2, 4, 3, 5, 6]]
    assert unpack(bits)[0, 6].tolist() == [False, True, True]


def test_the_tracks_survive_the_stored_frames() -> None:
    bits = np.zeros((2, FRAMES_PER_WINDOW), dtype=np.uint8)
    bits[1, 10:20] = 5
    tracks = LocalTracks(np.array([0, 80_000]), bits)
    scores = FrameScores(np.ones(4, np.float32), np.ones(4, np.float32), 160_000, local=tracks)
    again = FrameScores.from_npz(scores.to_npz())
    assert again.local is not None
    assert again.local.starts.tolist() == [0, 80_000] and np.array_equal(again.local.bits, bits)
    bare = FrameScores.from_npz(FrameScores(scores.speech, scores.count, 160_000).to_npz())
    assert bare.local is None


def test_solo_speech_leaves_out_frames_where_another_local_speaker_talks() -> None:
    bits = np.zeros((1, FRAMES_PER_WINDOW), dtype=np.uint8)
    bits[0, 0:10] = 1  # speaker 0 alone
    bits[0, 10:15] = 3  # speakers 0 and 1 at once
    bits[0, 15:18] = 2  # speaker 1 alone
    assert alone_frames(bits).tolist() == [[10, 3, 0]]
    samples = alone_samples(bits[0], 1, 10**6, start=1000)
    first = 1000 + FRAME_OFFSET_SAMPLES + 15 * FRAME_STEP_SAMPLES
    assert samples.tolist() == list(range(first, first + 3 * FRAME_STEP_SAMPLES))
    # Samples past the end of the file are dropped.
    assert len(alone_samples(bits[0], 0, 1000 + FRAME_OFFSET_SAMPLES + 5, start=1000)) == 5


def test_activation_averages_the_windows_that_see_a_frame() -> None:
    """Two windows overlap by half: where both hear speaker 7's local speaker, 1.0; where one of the two
    does, between 0 and 1; where none does, 0; an unmapped local speaker adds nothing."""
    step = 80_000
    num_samples = step * 3
    bits = np.zeros((2, FRAMES_PER_WINDOW), dtype=np.uint8)
    half = FRAMES_PER_WINDOW // 2
    bits[0, half:] = 1  # window 0, local 0: its second half
    bits[1, :half] = 2  # window 1, local 1: its first half (the same stretch of audio)
    bits[1, half:] = 4  # window 1, local 2: unmapped
    labels = np.array([[1, -1, -1], [-1, 1, -1]])
    act = speaker_activation(LocalTracks(np.array([0, step]), bits), labels, 2, num_samples)
    assert act.shape == (num_global_frames(num_samples), 2)
    middle = round(step / FRAME_STEP_SAMPLES) + half // 2
    assert act[middle, 1] > 0.99 and act[middle, 0] == 0.0
    assert act[10, 1] == 0.0  # window 0's first half: nobody mapped
    assert act[round(step / FRAME_STEP_SAMPLES) + half + 50, 1] == 0.0  # window 1's second half: unmapped


def test_a_local_speaker_names_the_person_its_solo_frames_mostly_belong_to() -> None:
    """Window 0's local speaker 0 talks alone over frames the CAM++ windows give 8 to 1 and 2 to 0: it names
    speaker 1 at purity 0.7 (0.8 of its frames), no one at 0.9; local speaker 1 mixes two people half and half
    and names no one; local speaker 2 talks only over someone else (no solo frame) and names no one."""
    num_samples = 160_000
    bits = np.zeros((1, FRAMES_PER_WINDOW), dtype=np.uint8)
    bits[0, 0:10] = 1
    bits[0, 10:20] = 2
    bits[0, 20:30] = 6  # local speakers 1 and 2 at once
    frame_labels = np.full(num_global_frames(num_samples), -1)
    frame_labels[0:8], frame_labels[8:10] = 1, 0
    frame_labels[10:15], frame_labels[15:20] = 0, 2
    tracks = LocalTracks(np.array([0]), bits)
    assert vote_local_speakers(tracks, frame_labels, num_samples, 0.7).tolist() == [[1, -1, -1]]
    assert vote_local_speakers(tracks, frame_labels, num_samples, 0.9).tolist() == [[-1, -1, -1]]


def test_a_voted_local_speaker_needs_its_own_voice_to_agree() -> None:
    voted = np.array([[1, 0, -1], [2, -1, -1]])
    keys = np.array([[0, 0], [0, 1], [1, 1]])  # window 1's local speaker 0 has no embedding
    nearest = np.array([1, 2, 0])
    assert confirmed_by_voice(voted, keys, nearest).tolist() == [[1, -1, -1], [-1, -1, -1]]


def test_frames_take_the_most_active_speakers_and_the_windows_fill_in() -> None:
    activation = np.array(
        [
            [0.9, 0.0, 0.0],  # one voice: speaker 0
            [0.2, 0.0, 0.8],  # two voices: 2 then 0
            [0.0, 0.7, 0.0],  # two voices, the tracks know one: the windows' second speaker fills in
            [0.0, 0.0, 0.0],  # the tracks know nobody: the windows' speaker
            [0.5, 0.5, 0.0],  # outside speech: nobody
            [
                0.0,
                0.0,
                0.0,
            ],  # two voices, the tracks know nobody, the windows' second is the first: their first
        ]
    )
    count = np.array([1, 2, 2, 1, 0, 2])
    primary = np.array([1, 1, 1, 2, -1, 1])
    second = np.array([-1, 0, 0, -1, -1, 1])
    first, other = frame_speakers(activation, count, primary, second)
    assert first.tolist() == [0, 2, 1, 2, -1, 1]
    assert other.tolist() == [-1, 0, 0, -1, -1, -1]
    # Named only where (nearly) every window agrees: 0.8 and 0.7 are not enough at 0.99.
    first, other = frame_speakers(activation, count, primary, second, min_activation=0.99)
    assert first.tolist() == [1, 1, 1, 2, -1, 1]
    assert other.tolist() == [-1, 0, 0, -1, -1, -1]
