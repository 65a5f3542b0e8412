import numpy as np
import pytest

from polsearch_assets.backends.profiles import configured_backends
from polsearch_assets.config import Settings
from polsearch_assets.core.speakers.average_linkage import ClusteringSettings, cluster
from polsearch_assets.core.speakers.own_voice import own_voice_similarity, stopping_similarity


def meeting(turns: list[tuple[int, int]], spread: float, dim: int = 192, seed: int = 0):
    """Windows of a meeting: ``turns`` is (voice, windows) in time order, each turn one speech region.
    ``spread``: noise per window relative to the voice (larger: lower same-voice similarity, as in a
    reverberant room or over a phone line)."""
    rng = np.random.default_rng(seed)
    voices = rng.standard_normal((max(v for v, _ in turns) + 1, dim))
    voices /= np.linalg.norm(voices, axis=1, keepdims=True)
    truth = np.concatenate([[v] * n for v, n in turns])
    regions = np.concatenate([[r] * n for r, (_, n) in enumerate(turns)])
    x = voices[truth] + rng.standard_normal((len(truth), dim)) * spread / np.sqrt(dim)
    return x, regions, truth


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = {(int(i), int(j)) for i, j in zip(a, b, strict=True)}
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_own_voice_similarity_is_the_median_of_consecutive_windows_of_one_region() -> None:
    e = np.eye(3)
    x = np.stack([e[0], e[0], e[1], e[1], e[1], e[2]])
    # Pairs within a region: (0,1)=1, (2,3)=1, (3,4)=1; the region changes between 1-2 and 4-5.
    assert own_voice_similarity(x, np.array([0, 0, 1, 1, 1, 2])) == 1.0
    # One region holding two voices: the median of 1, 0, 1, 1, 0.
    assert own_voice_similarity(x, np.zeros(6)) == 1.0
    assert own_voice_similarity(x, np.arange(6)) == pytest.approx(np.median([1, 0, 0, 0, 0] + [0] * 10))
    assert own_voice_similarity(x[:1], np.zeros(1)) is None
    assert stopping_similarity(x[:1], np.zeros(1)) == 1.0


# A hearing's typical shape: statements of 3-8 windows, a chair's short words between them.
TURNS = [
    (0, 2),
    (1, 8),
    (0, 1),
    (2, 6),
    (0, 2),
    (1, 5),
    (2, 7),
    (0, 1),
    (3, 6),
    (1, 4),
    (3, 5),
    (0, 2),
    (2, 4),
]


@pytest.mark.parametrize("spread", [0.6, 0.9, 1.2])
def test_the_count_holds_whether_voices_vary_little_or_much(spread: float) -> None:
    """Same-voice similarity ~0.75 (clean), ~0.55, ~0.4 (a far, reverberant room): stopping at a fraction of
    the recording's own similarity finds the 4 voices in each."""
    x, regions, truth = meeting(TURNS, spread, seed=int(spread * 10))
    stop = stopping_similarity(x, regions)
    assert same_partition(cluster(x, ClusteringSettings(threshold=stop)), truth)


def test_a_fixed_stopping_similarity_does_not_hold_across_rooms() -> None:
    """Why it is measured: the old fixed 0.5 splits the voices of the far room into more speakers."""
    x, _, truth = meeting(TURNS, 1.2, seed=12)
    assert len(set(cluster(x, ClusteringSettings(threshold=0.5)).tolist())) > len(set(truth.tolist()))


@pytest.mark.parametrize("spread", [0.6, 1.2])
@pytest.mark.parametrize("turns", [[(0, 3), (0, 2), (0, 2)], [(0, 8), (0, 3), (0, 6), (0, 2), (0, 9)]])
def test_a_lone_speaker_stays_one(spread: float, turns: list[tuple[int, int]]) -> None:
    """An 11 s speech with pauses (7 windows) and a longer one: one speaker, with the default minimum."""
    x, regions, _ = meeting(turns, spread, seed=len(turns))
    settings = Settings.from_env({})
    labels = cluster(
        x, ClusteringSettings(threshold=stopping_similarity(x, regions), min_speakers=settings.min_speakers)
    )
    assert labels.max() == 0


def test_the_speaker_settings_reach_the_diarizer() -> None:
    diarizer = configured_backends(Settings.from_env({})).diarizer
    assert diarizer.min_speakers == 1 and diarizer.threshold is None
    assert "avg-cos0.8own" in diarizer.model_identity
    diarizer = configured_backends(
        Settings.from_env({"POLSEARCH_SPEAKER_THRESHOLD": "0.45", "POLSEARCH_MIN_SPEAKERS": "2"})
    ).diarizer
    assert diarizer.min_speakers == 2 and diarizer.threshold == 0.45
    assert "avg-cos0.45" in diarizer.model_identity
