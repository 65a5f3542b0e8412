import numpy as np

from polsearch_assets.core.contracts import SpeakerFrames, Turn, Word
from polsearch_assets.core.speech.alignment import assign_speakers, assign_speakers_by_frames, segment_words
from polsearch_assets.core.validation import frames_problems


def w(text: str, start: int, end: int, speaker: str | None = None) -> Word:
    return Word(text, start, end, 0.9, speaker)


def speakers(words: list[Word]) -> list[str | None]:
    return [x.speaker for x in words]


def test_word_takes_the_speaker_with_the_largest_overlap() -> None:
    turns = [Turn("A", 0, 1000), Turn("B", 1000, 2000)]
    words = [w("one", 100, 400), w("two", 900, 1300), w("three", 800, 1100), w("four", 1500, 1900)]
    assert speakers(assign_speakers(words, turns)) == ["A", "B", "A", "B"]


def test_overlapping_turns_and_summed_overlap() -> None:
    # B interrupts A: each of B's turns overlaps the word less than A's (500, 600 < 700 ms), both together more.
    turns = [Turn("A", 0, 1800), Turn("B", 1200, 1700), Turn("B", 1800, 2500)]
    assert speakers(assign_speakers([w("x", 1100, 2400)], turns)) == ["B"]
    # Equal overlap: the speaker whose turn starts first.
    assert speakers(assign_speakers([w("y", 900, 1100)], [Turn("A", 0, 1000), Turn("B", 1000, 2000)])) == [
        "A"
    ]


def test_words_in_gaps_get_the_nearest_turn() -> None:
    turns = [Turn("A", 0, 1000), Turn("B", 3000, 4000)]
    words = [
        w("near-a", 1100, 1300),
        w("near-b", 2600, 2900),
        w("before", -500, -100),
        w("after", 5000, 5200),
    ]
    assert speakers(assign_speakers(words, turns)) == ["A", "B", "A", "B"]


def test_nearest_considers_a_long_earlier_turn() -> None:
    # A's long turn ends at 9000; B's short turn started later but ended earlier.
    turns = [Turn("A", 0, 9000), Turn("B", 1000, 2000)]
    assert speakers(assign_speakers([w("x", 9100, 9300)], turns)) == ["A"]


def test_zero_length_words_and_boundaries() -> None:
    turns = [Turn("A", 0, 1000), Turn("B", 1000, 2000)]
    assert speakers(assign_speakers([w("a", 1000, 1000), w("b", 999, 999)], turns)) == ["B", "A"]


def test_no_turns_leaves_words_unassigned() -> None:
    assert speakers(assign_speakers([w("a", 0, 100)], [])) == [None]


def test_segments_break_at_speaker_change_and_long_pause() -> None:
    words = [
        w("Hello", 0, 300, "A"), w("there.", 300, 600, "A"),
        w("Yes", 700, 900, "B"), w("indeed", 900, 1200, "B"),
        w("later", 4000, 4300, "B"),
    ]  # fmt: skip
    segments = segment_words(words)
    assert [(s.speaker, s.text) for s in segments] == [
        ("A", "Hello there."),
        ("B", "Yes indeed"),
        ("B", "later"),
    ]
    assert [s.index for s in segments] == [0, 1, 2]
    assert (segments[1].start_ms, segments[1].end_ms) == (700, 1200)


def _speech(n: int, speaker: str = "A", every: int = 10) -> list[Word]:
    """n words of 400 ms, 100 ms apart, a sentence end every `every` words."""
    return [
        w(f"w{i}" + ("." if (i + 1) % every == 0 else ""), i * 500, i * 500 + 400, speaker) for i in range(n)
    ]


def test_segments_end_at_a_sentence_after_the_minimum_length() -> None:
    segments = segment_words(_speech(100), min_segment_ms=15_000, max_segment_ms=30_000)
    # 30 words = 15 s: the first sentence end at or after 15 s closes each segment.
    assert all(s.text.endswith(".") for s in segments[:-1])
    assert all(15_000 <= s.end_ms - s.start_ms <= 30_000 for s in segments[:-1])
    assert sum(len(s.words) for s in segments) == 100


def test_max_length_prefers_the_last_sentence_end_then_cuts_hard() -> None:
    # Sentences of 70 words (35 s) -> no sentence end between 15 and 30 s.
    segments = segment_words(_speech(140, every=70), min_segment_ms=15_000, max_segment_ms=30_000)
    assert all(s.end_ms - s.start_ms <= 30_000 for s in segments)
    assert sum(len(s.words) for s in segments) == 140
    # With a sentence end early in the window, the cut happens there rather than mid-sentence.
    words = _speech(80, every=1000)
    words[19] = w("w19.", words[19].start_ms, words[19].end_ms, "A")
    first = segment_words(words, min_segment_ms=15_000, max_segment_ms=30_000)[0]
    assert first.text.endswith("w19.")


def frames_of(*rows: tuple[float, ...], frame_ms: int = 100) -> SpeakerFrames:
    return SpeakerFrames(frame_ms, ("A", "B"), np.array(rows, dtype=np.float32))


def test_frame_probabilities_settle_overlapping_speech_by_activity_in_the_word() -> None:
    # B interrupts A. Padded turns make the word overlap A longer (300 vs 200 ms), but over the word's
    # own frames the model hears B far more.
    turns = [Turn("A", 0, 700), Turn("B", 500, 1000)]
    frames = frames_of(
        (0.9, 0.0),
        (0.9, 0.0),
        (0.9, 0.0),
        (0.9, 0.0),
        (0.3, 0.2),
        (0.2, 0.9),
        (0.1, 0.9),
        (0.0, 0.9),
        (0.0, 0.9),
        (0.0, 0.9),
    )
    word = w("but", 400, 700)  # frames 4, 5, 6: A 0.2 on average, B 0.67
    assert speakers(assign_speakers([word], turns)) == ["A"]
    assert speakers(assign_speakers_by_frames([word], frames, turns)) == ["B"]
    assert speakers(assign_speakers_by_frames([w("the", 0, 250)], frames, turns)) == ["A"]


def test_frame_assignment_edges() -> None:
    frames = frames_of((0.0, 0.0), (0.2, 0.2), (0.0, 0.7), (0.0, 0.0))
    turns = [Turn("A", 0, 150), Turn("B", 350, 400)]
    words = [
        w("zero-length", 250, 250),  # the frame holding it: B
        w("tie", 100, 200),  # equal activity: the speaker who spoke first (column order)
        w("silent", 0, 90),  # no activity in its frames: max-overlap / nearest turn (A)
        w("past-the-end", 500, 650),  # beyond the last frame: that frame is silent, nearest turn (B)
        w("partial-frame", 199, 201),  # touches frames 1 and 2: B 0.45 > A 0.1
    ]
    assert speakers(assign_speakers_by_frames(words, frames, turns)) == ["B", "A", "A", "B", "B"]
    assert assign_speakers_by_frames([], frames, turns) == []
    empty = SpeakerFrames(100, (), np.zeros((4, 0), dtype=np.float32))
    assert speakers(assign_speakers_by_frames(words[:1], empty, turns)) == speakers(
        assign_speakers(words[:1], turns)
    )


def test_frames_survive_their_artifact_form_and_the_contract_catches_bad_ones() -> None:
    frames = frames_of((0.0, 1.0), (0.25, 0.5), (0.123456, 0.9))
    again = SpeakerFrames.from_npz(frames.to_npz())
    assert (again.frame_ms, again.speakers) == (100, ("A", "B"))
    assert np.allclose(again.probabilities, frames.probabilities, atol=1e-3)  # stored as float16
    document = {"speakers": ["A", "B"], "frames": {"frame_ms": 100, "count": 3}}
    assert frames_problems(document, again, duration_ms=250) == []
    bad = SpeakerFrames(100, ("B", "A"), np.array([[0.0, 1.5]] * 2, dtype=np.float32))
    problems = frames_problems(document, bad, duration_ms=250)
    assert [p.split(" ")[0:2] for p in problems] == [
        ["frame", "columns"],
        ["2", "frames"],
        ["diarization.json", "says"],
        ["frame", "probabilities"],
    ]


def test_a_boundary_inside_a_phrase_moves_to_the_nearest_pause() -> None:
    from polsearch_assets.core.speech.alignment import one_speaker_per_phrase

    def w(text: str, start: int, end: int, speaker: str) -> Word:
        return Word(text, start, end, 0.9, speaker)

    # "So I / don't hear that." with the turn boundary after "I": one phrase, one speaker (most word time).
    split = [w("So", 0, 200, "A"), w("I", 200, 300, "A"), w("don't", 320, 600, "B"), w("hear", 600, 800, "B"),
             w("that.", 800, 1100, "B"), w("Thank", 1600, 1900, "A"), w("you.", 1900, 2100, "A")]  # fmt: skip
    assert [x.speaker for x in one_speaker_per_phrase(split)] == ["B"] * 5 + ["A"] * 2
    # A change at a pause or a sentence end stays where it is.
    at_pause = [
        w("Yes.", 0, 300, "A"),
        w("No", 310, 500, "B"),
        w("way", 500, 700, "B"),
        w("I", 1000, 1100, "A"),
    ]
    assert [x.speaker for x in one_speaker_per_phrase(at_pause)] == ["A", "B", "B", "A"]
    # Seconds of talking over each other without a pause keep each word's own speaker.
    long_overlap = [w(f"w{i}", i * 300, i * 300 + 290, "A" if i % 4 < 2 else "B") for i in range(20)]
    assert one_speaker_per_phrase(long_overlap) == long_overlap
