import random
from itertools import pairwise

import pytest

from polsearch_assets.core.audio.chunking import chunk_speech, undecoded_rest
from polsearch_assets.core.contracts import Chunk, SpeechRegion

S = 1000  # ms per second


def regions(*spans: tuple[float, float]) -> list[SpeechRegion]:
    return [SpeechRegion(round(a * S), round(b * S)) for a, b in spans]


def spans(chunks: list[Chunk]) -> list[tuple[float, float]]:
    return [(c.start_ms / S, c.end_ms / S) for c in chunks]


def covered(intervals: list[SpeechRegion]) -> set[int]:
    """Every 10 ms tick inside the intervals (coarse, exact enough for coverage checks)."""
    return {t for r in intervals for t in range(r.start_ms // 10, r.end_ms // 10)}


def test_no_speech_gives_no_chunks() -> None:
    assert chunk_speech([], 3_600_000) == []


def test_short_hearing_is_one_chunk_trimmed_to_speech() -> None:
    assert spans(chunk_speech(regions((1.5, 7), (8, 20)), 30 * S)) == [(1.5, 20)]


def test_cut_at_the_longest_silence_in_the_window() -> None:
    # Window for the first chunk: [25, 60] s. Silences: 0.2 s at 30, 1.5 s at 50, 0.4 s at 44.
    speech = regions((0, 30), (30.2, 44), (44.4, 50), (51.5, 90))
    chunks = chunk_speech(speech, 100 * S)
    assert spans(chunks)[0] == (0, 50)
    assert chunks[1].start_ms == 51_500


def test_equal_silences_prefer_the_one_nearest_the_middle() -> None:
    # Two 0.5 s silences, at 27 s and 42 s; the window middle is 42.5 s.
    speech = regions((0, 27), (27.5, 42), (42.5, 100))
    assert spans(chunk_speech(speech, 100 * S))[0] == (0, 42)


def test_silences_before_the_minimum_are_not_cuts() -> None:
    # The 2 s silence at 10 s is too early (min 25 s); the 0.3 s one at 40 s is used.
    speech = regions((0, 10), (12, 40), (40.3, 100))
    assert spans(chunk_speech(speech, 100 * S))[0] == (0, 40)


def test_short_silences_are_not_cuts_and_continuous_speech_is_cut_hard() -> None:
    # 50 ms gaps are below min_silence_ms=100: the speech is continuous, cut at max length.
    speech = regions((0, 40), (40.05, 130))
    chunks = chunk_speech(speech, 130 * S)
    assert spans(chunks) == [(0, 60), (60, 120), (120, 130)]
    assert chunks[0].speech[-1].end_ms == chunks[1].speech[0].start_ms == 60_000


def test_a_long_recess_is_skipped_not_chunked() -> None:
    speech = regions((0, 10), (1000, 1010))
    assert spans(chunk_speech(speech, 1200 * S)) == [(0, 10), (1000, 1010)]


def test_regions_outside_the_audio_are_clipped() -> None:
    assert spans(chunk_speech(regions((-1, 5), (9, 15)), 12 * S)) == [(0, 12)]


def test_configurable_bounds_and_validation() -> None:
    speech = regions(*[(i * 5, i * 5 + 4.5) for i in range(20)])  # 4.5 s of speech every 5 s
    chunks = chunk_speech(speech, 100 * S, min_chunk_ms=10 * S, max_chunk_ms=20 * S)
    assert all(c.duration_ms <= 20 * S for c in chunks)
    assert all(b.start_ms - a.start_ms >= 10 * S for a, b in pairwise(chunks))
    with pytest.raises(ValueError):
        chunk_speech(speech, 100 * S, min_chunk_ms=30 * S, max_chunk_ms=20 * S)
    with pytest.raises(ValueError):
        chunk_speech(speech, 100 * S, min_chunk_ms=0)


@pytest.mark.parametrize("seed", range(200))
def test_invariants_on_random_speech(seed: int) -> None:
    rng = random.Random(seed)
    duration = rng.randint(1, 3 * 3600) * S
    speech, t = [], rng.randint(0, 5 * S)
    while t < duration:
        length = rng.choice([rng.randint(200, 3 * S), rng.randint(3 * S, 90 * S)])
        speech.append(SpeechRegion(t, min(duration, t + length)))
        t += length + rng.choice([rng.randint(0, 150), rng.randint(100, 2 * S), rng.randint(2 * S, 300 * S)])
    min_ms, max_ms = rng.choice([(25 * S, 60 * S), (10 * S, 30 * S), (5 * S, 5 * S)])
    chunks = chunk_speech(speech, duration, min_chunk_ms=min_ms, max_chunk_ms=max_ms)

    assert [c.index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert 0 <= chunk.start_ms < chunk.end_ms <= duration
        assert chunk.duration_ms <= max_ms
        assert chunk.speech[0].start_ms == chunk.start_ms and chunk.speech[-1].end_ms == chunk.end_ms
    for a, b in pairwise(chunks):
        assert a.end_ms <= b.start_ms  # ordered, no overlap
        assert (
            b.start_ms - a.start_ms >= min_ms
        )  # only the last chunk may be short without a silence after it
        if a.end_ms == b.start_ms:  # no silence between them: a hard cut after max length
            assert a.duration_ms == max_ms
    # Every bit of speech is in exactly one chunk; what chunks add are only the sub-100 ms pauses they bridge.
    chunk_regions = [r for c in chunks for r in c.speech]
    assert all(a.end_ms <= b.start_ms for a, b in pairwise(chunk_regions))
    given = covered([SpeechRegion(max(0, r.start_ms), min(duration, r.end_ms)) for r in speech])
    in_chunks = covered(chunk_regions)
    assert given <= in_chunks
    bridged = sorted(in_chunks - given)
    runs = [list(g) for g in _runs(bridged)]
    assert max(map(len, runs), default=0) <= 10  # each < 100 ms (10 ms ticks, rounded)


def _runs(ticks: list[int]):
    run: list[int] = []
    for tick in ticks:
        if run and tick != run[-1] + 1:
            yield run
            run = []
        run.append(tick)
    if run:
        yield run


def test_the_undecoded_rest_of_a_piece_is_its_speech_after_the_last_word() -> None:
    piece = Chunk(3, 10 * S, 30 * S, tuple(regions((10, 18), (19, 24), (25, 30))))
    rest = undecoded_rest(piece, 21 * S, 500)
    assert rest is not None and spans([rest]) == [(21, 30)]
    assert [(r.start_ms / S, r.end_ms / S) for r in rest.speech] == [(21, 24), (25, 30)]
    # a pause after the last word is not speech left over
    assert spans([undecoded_rest(piece, int(24.5 * S), 500)]) == [(25, 30)]  # type: ignore[list-item]
    assert undecoded_rest(piece, int(29.6 * S), 500) is None  # under 0.5 s: nothing worth a decode
    assert undecoded_rest(piece, 31 * S, 500) is None  # words timed past the end
    # a piece without speech regions counts as speech throughout
    assert spans([undecoded_rest(Chunk(0, 0, 8 * S), 5 * S, 500)]) == [(5, 8)]  # type: ignore[list-item]
