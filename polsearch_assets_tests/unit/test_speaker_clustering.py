import numpy as np
import pytest

from polsearch_assets.core.contracts import Turn
from polsearch_assets.core.speakers.clustering import (
    ClusteringSettings,
    WindowSpan,
    cluster_embeddings,
    relabel_by_first_appearance,
    smooth_labels,
    turns_from_windows,
)


def voices(
    rng: np.random.Generator, counts: list[int], spread: float = 0.25, dim: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy embeddings around one random direction per speaker; returns (embeddings, true labels)."""
    centers = rng.standard_normal((len(counts), dim))
    labels = np.repeat(np.arange(len(counts)), counts)
    noise = rng.standard_normal((len(labels), dim)) * spread
    return centers[labels] / np.linalg.norm(centers[labels], axis=1, keepdims=True) + noise / np.sqrt(
        dim
    ), labels


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    return len(set(zip(a.tolist(), b.tolist(), strict=True))) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("speakers", [1, 2, 4, 9, 15])
def test_estimates_the_number_of_speakers(speakers: int) -> None:
    rng = np.random.default_rng(speakers)
    embeddings, truth = voices(rng, [int(n) for n in rng.integers(20, 200, speakers)])
    labels = cluster_embeddings(embeddings, ClusteringSettings())
    assert same_partition(labels, truth)


def test_large_inputs_are_subsampled_for_agglomeration_then_fully_assigned() -> None:
    rng = np.random.default_rng(0)
    embeddings, truth = voices(rng, [4000, 3000, 2500, 500])
    labels = cluster_embeddings(embeddings, ClusteringSettings(max_ahc_points=500))
    assert same_partition(labels, truth)


def test_min_and_max_speakers_bound_the_estimate() -> None:
    rng = np.random.default_rng(1)
    embeddings, _ = voices(rng, [100] * 6)
    assert len(set(cluster_embeddings(embeddings, ClusteringSettings(max_speakers=4)))) == 4
    one_voice, _ = voices(rng, [300])
    assert len(set(cluster_embeddings(one_voice, ClusteringSettings(min_speakers=2)))) == 2
    with pytest.raises(ValueError):
        cluster_embeddings(one_voice, ClusteringSettings(min_speakers=3, max_speakers=2))


def test_tiny_clusters_join_their_nearest_speaker() -> None:
    rng = np.random.default_rng(2)
    embeddings, truth = voices(rng, [200, 200, 3])
    labels = cluster_embeddings(embeddings, ClusteringSettings(min_cluster_size=8))
    assert len(set(labels)) == 2
    assert same_partition(labels[truth < 2], truth[truth < 2])


def test_degenerate_inputs() -> None:
    assert cluster_embeddings(np.zeros((0, 8)), ClusteringSettings()).tolist() == []
    assert cluster_embeddings(np.ones((1, 8)), ClusteringSettings()).tolist() == [0]


def test_turns_cover_regions_and_split_between_window_centres() -> None:
    regions = [(0, 4000), (5000, 6000)]
    spans = [
        WindowSpan(0, 800),
        WindowSpan(0, 1600),
        WindowSpan(0, 2400),
        WindowSpan(0, 3200),
        WindowSpan(1, 5500),
    ]
    diarization = turns_from_windows(regions, spans, [7, 7, 3, 3, 7])
    assert diarization.speakers == ("SPEAKER_0", "SPEAKER_1")
    assert diarization.turns == (
        Turn("SPEAKER_0", 0, 2000),
        Turn("SPEAKER_1", 2000, 4000),
        Turn("SPEAKER_0", 5000, 6000),
    )


def test_smoothing_removes_single_window_flips_within_a_region_only() -> None:
    spans = [WindowSpan(0, i) for i in range(5)] + [WindowSpan(1, 10)]
    assert smooth_labels([1, 1, 2, 1, 1, 2], spans).tolist() == [1, 1, 1, 1, 1, 2]


def test_labels_are_numbered_by_first_appearance() -> None:
    diarization = relabel_by_first_appearance([Turn("b", 500, 900), Turn("a", 0, 400), Turn("b", 1000, 1200)])
    assert [(t.speaker, t.start_ms) for t in diarization.turns] == [
        ("SPEAKER_0", 0),
        ("SPEAKER_1", 500),
        ("SPEAKER_1", 1000),
    ]
    assert diarization.speakers == ("SPEAKER_0", "SPEAKER_1")


def test_the_smallest_voice_kept_scales_with_the_recording() -> None:
    """A voice must have 3 % of the windows (at least 2, at most 100): a 30 s clip keeps a 3 s talker, a
    4-hour hearing folds its stray clusters and still keeps a witness who speaks for minutes."""
    from polsearch_assets.core.speakers.average_linkage import ClusteringSettings, cluster

    rng = np.random.default_rng(0)
    voices = np.linalg.qr(rng.standard_normal((192, 192)))[0][:3]  # three orthogonal voices

    def windows(counts: list[int]) -> np.ndarray:
        parts = [v + 0.03 * rng.standard_normal((n, 192)) for v, n in zip(voices, counts, strict=False)]
        return np.vstack(parts)

    settings = ClusteringSettings(threshold=0.5, min_speakers=1)
    assert len(set(cluster(windows([12, 6, 2]), settings))) == 3  # a 30 s clip: 2 windows are a voice
    assert len(set(cluster(windows([200, 100, 5]), settings))) == 2  # 5 of 305 windows: folded
    assert len(set(cluster(windows([9000, 3000, 120]), settings))) == 3  # 120 windows of 12,120: kept
