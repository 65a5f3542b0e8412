"""Speaker alignment and segmenting: words + speaker turns -> speaker-labelled searchable segments."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace
from itertools import accumulate

import numpy as np

from polsearch_assets.core.contracts import Segment, SpeakerFrames, Turn, Word

_SENTENCE_END = (".", "?", "!")


def _overlap_ms(word: Word, turn: Turn) -> int:
    if word.start_ms == word.end_ms:  # a zero-length word counts as inside a turn or not
        return 1 if turn.start_ms <= word.start_ms < turn.end_ms else 0
    return max(0, min(word.end_ms, turn.end_ms) - max(word.start_ms, turn.start_ms))


def assign_speakers(words: Sequence[Word], turns: Sequence[Turn]) -> list[Word]:
    """Each word gets the speaker whose turns overlap it most; a word in no turn, the nearest turn's.

    Overlap is summed per speaker (a speaker with two short turns inside one word
    counts both); ties go to the speaker whose turn starts first. With no turns
    at all, words keep ``speaker=None``.
    """
    if not turns:
        return list(words)
    ordered = sorted(turns, key=lambda t: (t.start_ms, t.end_ms))
    starts = [t.start_ms for t in ordered]
    longest = max(t.end_ms - t.start_ms for t in ordered)
    # latest_ending[i]: of the turns ordered[:i + 1], the one that ends last (the nearest one on the left).
    latest_ending = list(accumulate(ordered, lambda best, t: t if t.end_ms > best.end_ms else best))
    result = []
    for word in words:
        overlap: dict[str, int] = {}
        # Only turns starting at most `longest` before the word can reach it.
        for turn in ordered[
            bisect.bisect_left(starts, word.start_ms - longest) : bisect.bisect_right(starts, word.end_ms)
        ]:
            if shared := _overlap_ms(word, turn):
                overlap[turn.speaker] = overlap.get(turn.speaker, 0) + shared
        if overlap:
            speaker = max(overlap, key=lambda s: overlap[s])  # insertion order = turn start order on ties
        else:
            position = bisect.bisect_right(starts, word.start_ms)
            candidates = ordered[position : position + 1] + latest_ending[max(0, position - 1) : position]
            speaker = min(candidates, key=lambda t: _gap_ms(word, t)).speaker
        result.append(replace(word, speaker=speaker))
    return result


def assign_speakers_by_frames(
    words: Sequence[Word], frames: SpeakerFrames, turns: Sequence[Turn]
) -> list[Word]:
    """Each word gets the speaker with the highest mean activity probability over the frames it spans.

    Where speakers overlap, this picks the one the model hears most in the word itself, where
    max-overlap would count padded turn edges. A word spans the frames its [start, end) touches (a
    zero-length word, the frame holding it); ties go to the speaker who spoke first. A word with no
    activity at all in its frames (or no frames) falls back to ``assign_speakers`` on the turns.
    """
    if not words:
        return []
    probabilities = frames.probabilities
    count = len(probabilities)
    if not count or not frames.speakers:
        return assign_speakers(words, turns)
    starts = np.array([w.start_ms for w in words]) // frames.frame_ms
    ends = -(-np.array([w.end_ms for w in words]) // frames.frame_ms)
    first = np.clip(starts, 0, count - 1)
    last = np.clip(np.maximum(ends, starts + 1), first + 1, count)
    # Mean over each word's frames from prefix sums: one pass however long the hearing.
    prefix = np.vstack(
        [np.zeros((1, probabilities.shape[1])), np.cumsum(probabilities, axis=0, dtype=np.float64)]
    )
    means = (prefix[last] - prefix[first]) / (last - first)[:, None]
    best = np.argmax(means, axis=1)
    silent = [i for i, row in enumerate(means) if row[best[i]] <= 0]
    fallback = dict(zip(silent, assign_speakers([words[i] for i in silent], turns), strict=True))
    return [
        fallback.get(i) or replace(word, speaker=frames.speakers[best[i]]) for i, word in enumerate(words)
    ]


def one_speaker_per_phrase(
    words: Sequence[Word], *, pause_ms: int = 200, max_phrase_ms: int = 4000
) -> list[Word]:
    """Speaker changes moved to the nearest pause: turn boundaries are never exact, and a boundary that
    falls inside a phrase ("So I / don't hear that") would split one person's sentence between two speakers.

    A phrase is a run of words with no pause of ``pause_ms`` or more and no sentence end inside it. A
    phrase of at most ``max_phrase_ms`` gets the speaker who has most of its word time; longer runs (two
    people talking over each other for seconds) keep their words' own speakers.
    """
    ordered = sorted(words, key=lambda w: (w.start_ms, w.end_ms))
    result: list[Word] = []
    phrase: list[Word] = []

    def close() -> None:
        speakers = {w.speaker for w in phrase}
        if len(speakers) > 1 and phrase[-1].end_ms - phrase[0].start_ms <= max_phrase_ms:
            time: dict[str | None, int] = {}
            for w in phrase:
                time[w.speaker] = time.get(w.speaker, 0) + max(w.end_ms - w.start_ms, 1)
            speaker = max(time, key=lambda s: time[s])  # ties: the first to speak in the phrase
            result.extend(replace(w, speaker=speaker) for w in phrase)
        else:
            result.extend(phrase)
        phrase.clear()

    for word in ordered:
        if phrase and (
            word.start_ms - phrase[-1].end_ms >= pause_ms or phrase[-1].word.endswith(_SENTENCE_END)
        ):
            close()
        phrase.append(word)
    if phrase:
        close()
    return result


def _gap_ms(word: Word, turn: Turn) -> int:
    return max(turn.start_ms - word.end_ms, word.start_ms - turn.end_ms, 0)


def segment_words(
    words: Sequence[Word],
    *,
    max_pause_ms: int = 1500,
    min_segment_ms: int = 15_000,
    max_segment_ms: int = 30_000,
) -> list[Segment]:
    """Group speaker-labelled words into segments.

    A segment ends at a speaker change, at a pause longer than ``max_pause_ms``,
    at the first sentence end once it is ``min_segment_ms`` long, and at the
    latest before it would exceed ``max_segment_ms`` (then at the last sentence
    end inside it if there is one, else before the word that would overflow).
    """
    segments: list[Segment] = []
    current: list[Word] = []

    def close(upto: int) -> None:
        nonlocal current
        taken, current = current[:upto], current[upto:]
        if taken:
            segments.append(_make_segment(len(segments), taken))

    for word in sorted(words, key=lambda w: (w.start_ms, w.end_ms)):
        if current:
            previous = current[-1]
            if word.speaker != previous.speaker or word.start_ms - previous.end_ms > max_pause_ms:
                close(len(current))
            elif word.end_ms - current[0].start_ms > max_segment_ms:
                close(_last_sentence_end(current) or len(current))
        current.append(word)
        if word.word.endswith(_SENTENCE_END) and word.end_ms - current[0].start_ms >= min_segment_ms:
            close(len(current))
    close(len(current))
    return segments


def _last_sentence_end(words: Sequence[Word]) -> int | None:
    """Index just after the last word that ends a sentence (not the last word itself), or None."""
    for index in range(len(words) - 1, 0, -1):
        if words[index - 1].word.endswith(_SENTENCE_END):
            return index
    return None


def _make_segment(index: int, words: Sequence[Word]) -> Segment:
    return Segment(
        index=index,
        start_ms=words[0].start_ms,
        end_ms=max(w.end_ms for w in words),
        text=" ".join(w.word.strip() for w in words),
        words=tuple(words),
        speaker=words[0].speaker,
    )
