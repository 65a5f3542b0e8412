"""Signs that a transcript holds text the audio does not: Whisper's repetition loops and hallucinations.

Greedy decoding can fall into a loop ("thank you. thank you. ...") on silence, music or noise, and a
decoder may write words where nothing was said. Each rule here finds one sign, with its times on the
hearing's timeline, so the ``transcript`` check can say where to listen:

- a word n-gram repeated ``MIN_REPEATS`` or more times back to back;
- words where the VAD found no speech;
- text that compresses too well (zlib, Whisper's own measure of a loop) over one decoding window;
- more words a second than people say.

Heuristics, not proof: someone may say "no, no, no, no". Pure functions over the stage contracts.
"""

from __future__ import annotations

import re
import zlib
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from polsearch_assets.core.contracts import Chunk, Segment, SpeechRegion, Word

MIN_REPEATS = 4
MAX_NGRAM = 8  # longer loops exist, but their text also compresses too well
COMPRESSION_LIMIT = 2.4  # Whisper's compression_ratio_threshold
# Fast real speech reached 5.8 words/s over 1.2 s and 5.4 over 3.5 s (council hearings, BENCHMARKS.md);
# words a loop squeezes into a stretch come far tighter.
MAX_WORDS_PER_S = 6.0
MIN_RATE_SPAN_MS = 2_000  # a shorter segment counts as this long: two quick words are not a rate
SPEECH_SLACK_MS = 300  # word times are off by up to a few hundred ms at pauses


@dataclass(frozen=True)
class Suspect:
    """A stretch of the transcript that looks made up, and why."""

    kind: str  # repetition | no_speech | compression | rate
    start_ms: int
    end_ms: int
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "start_ms": self.start_ms, "end_ms": self.end_ms, "detail": self.detail}

    def __str__(self) -> str:
        return f"{self.kind} at {_clock(self.start_ms)}-{_clock(self.end_ms)}: {self.detail}"


def _clock(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _token(word: str) -> str:
    return re.sub(r"[^\w']+", "", word.lower())


def repeated_ngrams(words: Sequence[Word], min_repeats: int = MIN_REPEATS) -> list[Suspect]:
    """Word n-grams (n <= ``MAX_NGRAM``) repeated ``min_repeats`` or more times back to back; the
    shortest n that repeats is reported, and the stretch it covers is not searched again."""
    spoken = [w for w in words if _token(w.word)]
    tokens = [_token(w.word) for w in spoken]
    found, i = [], 0
    while i < len(tokens):
        loop = _loop_at(tokens, i, min_repeats)
        if loop is None:
            i += 1
            continue
        n, repeats = loop
        phrase = " ".join(tokens[i : i + n])
        end = spoken[i + repeats * n - 1].end_ms
        found.append(Suspect("repetition", spoken[i].start_ms, end, f"'{phrase}' x{repeats}"))
        i += repeats * n
    return found


def _loop_at(tokens: Sequence[str], i: int, min_repeats: int) -> tuple[int, int] | None:
    """(n, repeats) of the shortest n-gram starting at ``i`` repeated ``min_repeats``+ times, if any."""
    for n in range(1, min(MAX_NGRAM, (len(tokens) - i) // min_repeats) + 1):
        repeats = 1
        while tokens[i + repeats * n : i + (repeats + 1) * n] == tokens[i : i + n]:
            repeats += 1
        if repeats >= min_repeats:
            return n, repeats
    return None


def words_without_speech(words: Sequence[Word], speech: Sequence[SpeechRegion]) -> list[Suspect]:
    """Runs of words that no speech region reaches (within ``SPEECH_SLACK_MS``)."""
    regions = sorted((r.start_ms - SPEECH_SLACK_MS, r.end_ms + SPEECH_SLACK_MS) for r in speech)
    found: list[Suspect] = []
    run: list[Word] = []
    j = 0
    for word in sorted(words, key=lambda w: w.start_ms):
        while j < len(regions) and regions[j][1] < word.start_ms:
            j += 1
        # regions[j] is the first that ends after the word starts; it is heard if that one starts in time
        if j == len(regions) or regions[j][0] > word.end_ms:
            run.append(word)
            continue
        found += _run_suspect(run)
        run = []
    return found + _run_suspect(run)


def _run_suspect(run: list[Word]) -> list[Suspect]:
    if not run:
        return []
    text = " ".join(w.word for w in run)
    return [
        Suspect(
            "no_speech",
            run[0].start_ms,
            run[-1].end_ms,
            f"{len(run)} words where the VAD heard none: '{text[:80]}'",
        )
    ]


def compression_ratio(text: str) -> float:
    """Whisper's measure: UTF-8 length over zlib-compressed length (loops compress far better than speech)."""
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0


def compressible_windows(words: Sequence[Word], windows: Sequence[Chunk]) -> list[Suspect]:
    """Decoding windows (``split_chunks`` of the VAD chunks) whose words' text compresses past
    ``COMPRESSION_LIMIT``."""
    # Word indices sorted by midpoint: each window's words are one bisected slice (a 4-hour transcript
    # has ~40,000 words and ~700 windows), taken back in the transcript's order.
    middle = [(w.start_ms + w.end_ms) // 2 for w in words]
    order = sorted(range(len(words)), key=middle.__getitem__)
    middles = [middle[i] for i in order]
    found = []
    for window in windows:
        lo, hi = bisect_left(middles, window.start_ms), bisect_left(middles, window.end_ms)
        inside = [words[i] for i in sorted(order[lo:hi])]
        ratio = compression_ratio(" ".join(w.word for w in inside))
        if ratio > COMPRESSION_LIMIT:
            found.append(
                Suspect("compression", window.start_ms, window.end_ms, f"text compresses {ratio:.1f}x")
            )
    return found


def implausible_rates(segments: Sequence[Segment]) -> list[Suspect]:
    """Segments with more than ``MAX_WORDS_PER_S`` words a second (over at least ``MIN_RATE_SPAN_MS``)."""
    found = []
    for segment in segments:
        rate = len(segment.words) * 1000 / max(segment.end_ms - segment.start_ms, MIN_RATE_SPAN_MS)
        if rate > MAX_WORDS_PER_S:
            found.append(
                Suspect(
                    "rate", segment.start_ms, segment.end_ms, f"{len(segment.words)} words at {rate:.1f}/s"
                )
            )
    return found


def hallucination_suspects(segments: Sequence[Segment], windows: Sequence[Chunk]) -> list[Suspect]:
    """Every rule's findings over a transcript, in time order; ``windows`` are its decoding windows,
    whose speech regions are the VAD's."""
    words = [w for s in segments for w in s.words]
    speech = [r for w in windows for r in w.speech]
    found = (
        repeated_ngrams(words)
        + words_without_speech(words, speech)
        + compressible_windows(words, windows)
        + implausible_rates(segments)
    )
    return sorted(found, key=lambda s: (s.start_ms, s.end_ms, s.kind))
