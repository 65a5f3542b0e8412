"""Linking windowed diarization into global speakers, on embeddings constructed here."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from polsearch_assets.core.contracts import Turn
from polsearch_assets.core.speakers.clustering import relabel_by_first_appearance
from polsearch_assets.core.speakers.linking import (
    LocalSpeaker,
    diarization_windows,
    link_speakers,
    stitch_frames,
    stitch_turns,
)

RNG = np.random.default_rng(3)
VOICES = RNG.normal(size=(15, 192))  # 15 distinct voices: random 192-d directions are ~orthogonal


def heard(voice: int, window: int, label: str, noise: float = 0.3, speech_ms: int = 60_000) -> LocalSpeaker:
    """A voice as one window's model embeds it: the voice plus per-window noise."""
    embedding = VOICES[voice] + noise * np.linalg.norm(VOICES[voice]) * RNG.normal(size=192) / np.sqrt(192)
    return LocalSpeaker(window, label, embedding, speech_ms)


def test_windows_cover_the_hearing_and_their_cores_partition_it() -> None:
    windows = diarization_windows(duration_ms=3_600_000, window_ms=600_000, overlap_ms=60_000)
    assert windows[0].start_ms == 0 and windows[-1].end_ms == 3_600_000
    assert all(w.end_ms - w.start_ms <= 600_000 for w in windows)
    assert all(b.start_ms == a.end_ms - 60_000 for a, b in itertools.pairwise(windows))
    cores = [(w.core_start_ms, w.core_end_ms) for w in windows]
    assert cores[0][0] == 0 and cores[-1][1] == 3_600_000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cores))  # no gap, no double count
    assert all(w.start_ms <= w.core_start_ms < w.core_end_ms <= w.end_ms for w in windows)


@pytest.mark.parametrize(("duration", "count"), [(1, 1), (600_000, 1), (600_001, 2), (1_140_000, 2)])
def test_short_hearings_need_few_windows(duration: int, count: int) -> None:
    windows = diarization_windows(duration, window_ms=600_000, overlap_ms=60_000)
    assert len(windows) == count and windows[-1].end_ms == duration


def test_window_zero_is_one_pass_over_the_hearing() -> None:
    (window,) = diarization_windows(14_400_000, window_ms=0, overlap_ms=60_000)
    assert (window.start_ms, window.end_ms, window.core_start_ms, window.core_end_ms) == (0, 14_400_000) * 2


def test_bad_window_settings_are_refused() -> None:
    assert diarization_windows(0, 600_000, 60_000) == []
    with pytest.raises(ValueError, match="overlap_ms < window_ms"):
        diarization_windows(1_000_000, 60_000, 60_000)


def test_a_speaker_in_several_windows_becomes_one_identity() -> None:
    # 6 windows of 4 local speakers each, drawn from 9 voices: the chair (voice 0) is in every window
    plan = [[0, 1, 2, 3], [0, 2, 4, 5], [0, 6, 1, 7], [0, 8, 3, 4], [0, 5, 6, 2], [0, 1, 7, 8]]
    speakers = [
        heard(voice, w, f"spk_{i}") for w, voices in enumerate(plan) for i, voice in enumerate(voices)
    ]
    identities = link_speakers(speakers, threshold=0.5, max_speakers=15)
    by_voice: dict[int, set[int]] = {}
    for w, voices in enumerate(plan):
        for i, voice in enumerate(voices):
            by_voice.setdefault(voice, set()).add(identities[(w, f"spk_{i}")])
    assert all(len(ids) == 1 for ids in by_voice.values())  # each voice: one identity across windows
    assert len(set(identities.values())) == 9  # and different voices stay apart


def test_speakers_separated_inside_one_window_are_never_merged() -> None:
    # two similar voices the model nevertheless told apart in window 0
    twin = VOICES[0] + 0.15 * RNG.normal(size=192) * np.linalg.norm(VOICES[0]) / np.sqrt(192)
    speakers = [
        LocalSpeaker(0, "a", VOICES[0], 30_000),
        LocalSpeaker(0, "b", twin, 30_000),
        heard(0, 1, "x", noise=0.05),
    ]
    identities = link_speakers(speakers, threshold=0.5, max_speakers=15)
    assert identities[(0, "a")] != identities[(0, "b")]
    assert identities[(1, "x")] == identities[(0, "a")]  # the closer one takes the window-1 speaker


def test_max_speakers_forces_the_closest_merges() -> None:
    speakers = [heard(v, w, "s") for w, v in enumerate(range(6))]  # 6 voices, one per window
    assert len(set(link_speakers(speakers, threshold=0.2, max_speakers=15).values())) == 6
    assert len(set(link_speakers(speakers, threshold=0.2, max_speakers=4).values())) == 4
    with pytest.raises(ValueError, match="max_speakers"):
        link_speakers(speakers, threshold=0.2, max_speakers=0)


def test_stitched_turns_follow_cores_and_number_by_first_appearance() -> None:
    windows = diarization_windows(duration_ms=200_000, window_ms=120_000, overlap_ms=40_000)
    assert [(w.core_start_ms, w.core_end_ms) for w in windows] == [(0, 100_000), (100_000, 200_000)]
    turns = {
        0: [Turn("spk_1", 0, 50_000), Turn("spk_0", 50_000, 120_000)],  # spk_0 runs into the overlap
        1: [Turn("spk_3", 80_000, 150_000), Turn("spk_2", 150_000, 200_000)],  # both windows hear it
    }
    identities = {(0, "spk_1"): 5, (0, "spk_0"): 2, (1, "spk_3"): 2, (1, "spk_2"): 7}
    stitched = stitch_turns(windows, turns, identities)
    assert stitched == [
        Turn("G5", 0, 50_000),
        Turn("G2", 50_000, 100_000),
        Turn("G2", 100_000, 150_000),
        Turn("G7", 150_000, 200_000),
    ]
    diarization = relabel_by_first_appearance(stitched)
    assert diarization.speakers == ("SPEAKER_0", "SPEAKER_1", "SPEAKER_2")
    assert [t.speaker for t in diarization.turns] == ["SPEAKER_0", "SPEAKER_1", "SPEAKER_1", "SPEAKER_2"]


def test_stitched_frames_follow_cores_and_identities() -> None:
    """Two windows of 4 s overlapping by 2 s over 6 s of audio, 1 s frames: each window's frames are
    kept in its core, local columns land on their global identity, a local speaker with no identity
    is dropped, and the relabelling reorders the columns to SPEAKER_N."""
    windows = diarization_windows(duration_ms=6_000, window_ms=4_000, overlap_ms=2_000)
    assert [(w.start_ms, w.core_start_ms, w.core_end_ms) for w in windows] == [
        (0, 0, 3_000),
        (2_000, 3_000, 6_000),
    ]
    first = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.7, 0.6, 0.0], [0.1, 0.9, 0.0]])
    second = np.array([[0.5, 0.5, 0.3], [0.2, 0.9, 0.0], [0.0, 0.8, 0.1], [0.0, 0.1, 0.95]])
    identities = {
        (0, "spk_0"): 4,
        (0, "spk_1"): 1,
        (1, "spk_0"): 1,
        (1, "spk_1"): 6,
    }  # window 1's spk_2: none
    frames = stitch_frames(
        windows, {0: first, 1: second}, ["spk_0", "spk_1", "spk_2"], identities, 6_000, 1_000
    )
    assert frames.speakers == ("G1", "G4", "G6")
    # global frames 0-2 from window 0 (its frames 0-2), 3-5 from window 1 (its frames 1-3)
    expected = np.array(
        [
            [0.1, 0.9, 0.0],
            [0.2, 0.8, 0.0],
            [0.6, 0.7, 0.0],
            [0.2, 0.0, 0.9],
            [0.0, 0.0, 0.8],
            [0.0, 0.0, 0.1],
        ]
    )
    assert np.allclose(frames.probabilities, expected)
    turns = [Turn("G4", 0, 2_500), Turn("G1", 2_000, 3_100), Turn("G6", 3_100, 6_000)]
    relabelled = relabel_by_first_appearance(turns, frames)
    assert relabelled.frames is not None and relabelled.frames.speakers == relabelled.speakers
    assert relabelled.speakers == ("SPEAKER_0", "SPEAKER_1", "SPEAKER_2")  # G4, G1, G6
    assert np.allclose(relabelled.frames.probabilities, expected[:, [1, 0, 2]])


def test_stitched_frames_cover_a_hearing_that_is_not_a_whole_number_of_frames() -> None:
    windows = diarization_windows(duration_ms=1_000, window_ms=0, overlap_ms=0)
    model_frames = np.full((12, 4), 0.5)  # the model may give a frame more or less than the audio has
    frames = stitch_frames(windows, {0: model_frames}, [f"s{k}" for k in range(4)], {(0, "s2"): 0}, 1_000, 80)
    assert frames.probabilities.shape == (13, 1) and np.allclose(frames.probabilities, 0.5)  # 1000 / 80 -> 13


def test_a_voice_is_known_by_its_longest_turns_up_to_the_limit() -> None:
    from polsearch_assets.core.speakers.windowed import voice_turns

    turns = [Turn("a", 0, 1000), Turn("b", 1000, 9000), Turn("a", 9000, 14000), Turn("a", 14000, 17000)]
    assert voice_turns(turns, "a", 6000) == [Turn("a", 9000, 14000), Turn("a", 14000, 17000)]
    assert voice_turns(turns, "a", 100_000) == [
        Turn("a", 9000, 14000),
        Turn("a", 14000, 17000),
        Turn("a", 0, 1000),
    ]
    assert voice_turns(turns, "c", 6000) == []
