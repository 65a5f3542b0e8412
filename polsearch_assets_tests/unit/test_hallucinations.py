"""The signs of made-up transcript text, on hand-made words with known times."""

from __future__ import annotations

from polsearch_assets.core.contracts import Chunk, Segment, SpeechRegion, Word
from polsearch_assets.core.speech.hallucinations import (
    compressible_windows,
    compression_ratio,
    hallucination_suspects,
    implausible_rates,
    repeated_ngrams,
    words_without_speech,
)

TWO_CITIES = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
    "foolishness, it was the epoch of belief, it was the epoch of incredulity"
)


def timed(text: str, start_ms: int = 0, step_ms: int = 400) -> list[Word]:
    return [Word(w, start_ms + i * step_ms, start_ms + i * step_ms + 300) for i, w in enumerate(text.split())]


def test_a_phrase_said_four_times_in_a_row_is_a_loop_with_its_times() -> None:
    words = timed("thank you so much. Thank you. thank you, Thank you. thank you and goodbye", 10_000)
    (loop,) = repeated_ngrams(words)
    assert (loop.kind, loop.start_ms, loop.end_ms) == ("repetition", 11_600, 14_700)
    assert loop.detail == "'thank you' x4"
    assert str(loop).startswith("repetition at 0:00:11-0:00:14")


def test_three_times_or_a_repeated_pattern_with_other_words_is_not_a_loop() -> None:
    assert repeated_ngrams(timed("no no no we will not")) == []
    assert repeated_ngrams(timed(TWO_CITIES)) == []  # "it was the ..." recurs, never back to back


def test_a_single_word_loop_and_a_long_phrase_loop_are_found() -> None:
    assert [s.detail for s in repeated_ngrams(timed("you you you you you"))] == ["'you' x5"]
    phrase = "we will now hear from the next witness "
    assert [s.detail for s in repeated_ngrams(timed(phrase * 4 + "please"))] == [
        "'we will now hear from the next witness' x4"
    ]


def test_words_where_the_vad_heard_nothing_are_reported_as_runs() -> None:
    speech = [SpeechRegion(0, 3_000), SpeechRegion(10_000, 12_000)]
    words = timed("hello there", 500) + timed("thank you for watching", 5_000) + timed("and", 3_200)
    words += timed("welcome back", 10_100)
    (run,) = words_without_speech(words, speech)  # "and" at 3.2 s is within the slack of 3.0 s
    assert (run.kind, run.start_ms, run.end_ms) == ("no_speech", 5_000, 6_500)
    assert "4 words" in run.detail and "thank you for watching" in run.detail
    assert words_without_speech(timed("late words", 20_000), speech)[0].start_ms == 20_000
    assert words_without_speech(timed("nothing heard"), []) != []


def test_loops_compress_far_better_than_speech() -> None:
    assert compression_ratio(TWO_CITIES) < 2.4
    assert compression_ratio("Thank you. " * 20) > 2.4
    window = Chunk(0, 0, 30_000, (SpeechRegion(0, 30_000),))
    assert compressible_windows(timed(TWO_CITIES, step_ms=300), [window]) == []
    (found,) = compressible_windows(timed("I yield back. " * 20, step_ms=300), [window])
    assert (found.kind, found.start_ms, found.end_ms) == ("compression", 0, 30_000)


def test_a_window_holds_the_words_whose_middle_falls_in_it_in_the_transcripts_order() -> None:
    loop = timed("I yield back. " * 20, 30_000, step_ms=300)
    # Out of time order (overlapping segments) and on the edges: a middle at 29,999 ms is in the first
    # window only, one at 30,000 in the second only.
    words = (
        timed(TWO_CITIES, step_ms=300)[:40]
        + loop
        + [Word("back.", 29_900, 30_099), Word("I", 29_800, 30_200)]
    )
    first, second = Chunk(0, 0, 30_000), Chunk(1, 30_000, 60_000)
    found = compressible_windows(words, [first, second])
    assert [(s.start_ms, s.end_ms) for s in found] == [(30_000, 60_000)]
    inside = [w for w in words if 30_000 <= (w.start_ms + w.end_ms) // 2 < 60_000]
    assert found[0].detail == f"text compresses {compression_ratio(' '.join(w.word for w in inside)):.1f}x"
    assert words[-2] not in inside and words[-1] in inside
    # The edges decide on their own: a window ends before its end_ms and starts at its start_ms.
    loops = [Word("thank you " * 10, 29_900, 30_099), Word("thank you " * 10, 29_800, 30_200)]
    edges = [
        Chunk(0, 29_000, 29_999),
        Chunk(1, 29_999, 30_000),
        Chunk(2, 30_000, 30_001),
        Chunk(3, 30_001, 31_000),
    ]
    assert [s.start_ms for s in compressible_windows(loops, edges)] == [29_999, 30_000]


def test_more_words_a_second_than_people_say_is_implausible() -> None:
    fast = Segment(
        0, 0, 3_500, "x", tuple(timed("one two three four five six seven eight nine ten " * 2)[:19])
    )
    squeezed = Segment(1, 4_000, 6_100, "x", tuple(timed("a b c d e f g h i j k l m n o p", 4_000, 120)))
    short = Segment(2, 7_000, 7_300, "x", tuple(timed("yes sir", 7_000, 100)))  # counts as 2 s long
    (found,) = implausible_rates([fast, squeezed, short])  # 19 words in 3.5 s is fast real speech
    assert (found.kind, found.start_ms, found.detail) == ("rate", 4_000, "16 words at 7.6/s")


def test_all_rules_together_in_time_order() -> None:
    speech = (SpeechRegion(0, 20_000),)
    real = Segment(0, 0, 10_000, TWO_CITIES, tuple(timed(TWO_CITIES, 0, 300)))
    loop = Segment(1, 40_000, 42_000, "x", tuple(timed("you " * 16, 40_000, 120)))
    suspects = hallucination_suspects([real, loop], [Chunk(0, 0, 20_000, speech)])
    assert {s.kind for s in suspects} == {"repetition", "no_speech", "rate"}
    assert all(s.start_ms >= 40_000 for s in suspects)
    assert hallucination_suspects([real], [Chunk(0, 0, 20_000, speech)]) == []
