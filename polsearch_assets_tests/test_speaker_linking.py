"""Linking windowed diarization into global speakers, on embeddings constructed here."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from polsearch_assets.contracts import Turn
from polsearch_assets.speaker_clustering import relabel_by_first_appearance
from polsearch_assets.speaker_linking import (
    LocalSpeaker,
    diarization_windows,
    link_speakers,
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
