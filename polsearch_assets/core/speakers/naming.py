"""Naming a hearing's speakers: voices matched to enrolled people, and spoken introductions as suggestions.

``match_speakers`` compares every hearing voice with every voiceprint of every person (cosine similarity of
unit vectors from the same encoder; a person scores their best voiceprint), then assigns people to speakers
as one assignment (``scipy.optimize.linear_sum_assignment``): a person names at most one speaker of a
hearing, and two similar speakers cannot both take the same person. A pair below the encoder's threshold
is never named. One exception: a person whose voice the diarizer split into two hearing speakers (both
above the threshold for that person, and they never talk at the same time, given the hearing's turns)
names both, so every fragment of a named person carries the name. Another: a speaker that holds two people's
speech (the diarizer merged them) is never named. Its windows split in two halves (``Voice.parts``), and a
person is refused where a half of at least ``MIXED_MIN_SHARE`` of the speaker is unlike that person's voice
(under ``MIXED_THRESHOLDS``), however well the whole speaker matches: the mean of two voices can sit close to
either. The thresholds were chosen on real voices (``bench/bench_speaker_names.py``, BENCHMARKS.md).

``find_cues`` looks for a chair introducing someone ("I now recognize Senator Cantwell", "our first
witness, Dr. Lee") and pairs the name with whoever speaks next: a suggestion to confirm, never a name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from polsearch_assets.core.contracts import Cue, Segment, SpeakerName, Turn, Voice

# Cosine similarity at or above which a hearing voice is an enrolled person's, per voice encoder. Chosen
# on real council voices from the two DEV meetings, one meeting's voices compared with the other's: the
# middle of the gap between the least similar same person and the most similar different people
# (bench/bench_speaker_names.py; the TEST meetings' figures are in BENCHMARKS.md, "Naming speakers").
MATCH_THRESHOLDS = {"campplus-192": 0.81, "resemblyzer-256": 0.85}
# Two speakers "talk at the same time" when their turns overlap by more than this share of the shorter one's
# speaking time: the diarizer gives overlapped frames a second speaker, the nearest in time, which may be a
# fragment of the same person for a few frames.
SPLIT_MAX_OVERLAP = 0.02
# A half of a speaker's windows (``Voice.parts``) whose mean is under this similarity to a person's voiceprint
# is someone else's speech: the speaker is not named after that person. Per voice encoder; chosen on real
# council voices, DEV meetings only (bench/bench_speaker_names.py ``mixed``: speakers made of one member's
# windows and of two members' windows, BENCHMARKS.md "A speaker holding two people").
MIXED_THRESHOLDS = {"campplus-192": 0.66}
# A half this small is a few back-channels or crosstalk, not a second person worth refusing a name for.
MIXED_MIN_SHARE = 0.1


def match_threshold(encoder: str | None, override: float | None = None) -> float | None:
    """The threshold for voices of ``encoder`` (an explicit ``override`` wins); None: not calibrated."""
    if override is not None:
        return override
    return MATCH_THRESHOLDS.get(encoder or "")


@dataclass(frozen=True, eq=False)
class Voiceprint:
    """One enrolled voice of a person (a row of the voiceprint library)."""

    person: str
    person_id: str | None
    encoder: str
    embedding: np.ndarray  # unit length


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def person_scores(
    voices: Sequence[Voice], voiceprints: Sequence[Voiceprint], encoder: str | None
) -> tuple[list[str], np.ndarray]:
    """The people with a voiceprint of ``encoder``, and each voice's best similarity to each: [voices, people]."""
    usable = [v for v in voiceprints if v.encoder == encoder]
    people = sorted({v.person for v in usable})
    return people, _best_per_person([v.embedding for v in voices], usable, people)


def _best_per_person(
    vectors: Sequence[np.ndarray], usable: Sequence[Voiceprint], people: Sequence[str]
) -> np.ndarray:
    """Each vector's best similarity to each person's voiceprints: [vectors, people] (-1 where none)."""
    scores = np.full((len(vectors), len(people)), -1.0)
    if not len(vectors) or not people:
        return scores
    similarity = (
        _unit_rows(np.stack(vectors).astype(np.float64))
        @ _unit_rows(np.stack([v.embedding for v in usable]).astype(np.float64)).T
    )
    column = {p: j for j, p in enumerate(people)}
    for k, voiceprint in enumerate(usable):
        j = column[voiceprint.person]
        scores[:, j] = np.maximum(scores[:, j], similarity[:, k])
    return scores


def mixed_voices(
    voices: Sequence[Voice],
    voiceprints: Sequence[Voiceprint],
    encoder: str | None,
    people: Sequence[str],
    below: float | None = None,
) -> np.ndarray:
    """[voices, people]: True where a half of the voice (``Voice.parts``, at least ``MIXED_MIN_SHARE`` of it)
    is under ``below`` (default: the encoder's ``MIXED_THRESHOLDS``) similar to the person's voice: the speaker
    holds someone else's speech too. False where the encoder has no calibrated threshold or the voice no parts
    (a short speaker, a diarization written before parts)."""
    mixed = np.zeros((len(voices), len(people)), dtype=bool)
    below = MIXED_THRESHOLDS.get(encoder or "") if below is None else below
    if below is None:
        return mixed
    usable = [v for v in voiceprints if v.encoder == encoder]
    for i, voice in enumerate(voices):
        halves = [p.embedding for p in voice.parts if p.share >= MIXED_MIN_SHARE]
        if halves:
            mixed[i] = (_best_per_person(halves, usable, people) < below).any(axis=0)
    return mixed


def match_speakers(
    voices: Sequence[Voice],
    voiceprints: Sequence[Voiceprint],
    encoder: str | None,
    threshold: float | None,
    turns: Sequence[Turn] = (),
    mixed_threshold: float | None = None,
) -> list[SpeakerName]:
    """Each hearing voice with the person it is (or None), at most one speaker per person, unless ``turns``
    show a second speaker matching that person who never talks at the same time as the first (a split).
    A voice holding speech unlike the person's (``mixed_voices``, at ``mixed_threshold`` or the encoder's
    calibrated one) is not named after them."""
    from scipy.optimize import linear_sum_assignment

    people, scores = person_scores(voices, voiceprints, encoder)
    mixed = mixed_voices(voices, voiceprints, encoder, people, mixed_threshold)
    ids: dict[str, str | None] = {}
    for voiceprint in voiceprints:  # the person's id, as any of their voiceprints gives it
        ids[voiceprint.person] = ids.get(voiceprint.person) or voiceprint.person_id
    assigned: dict[int, int] = {}
    if threshold is not None and scores.size:
        eligible = (scores >= threshold) & ~mixed
        # Pairs not eligible earn nothing, so they never displace an eligible pair.
        reward = np.where(eligible, scores, 0.0)
        rows, columns = linear_sum_assignment(reward, maximize=True)
        assigned = {int(i): int(j) for i, j in zip(rows, columns, strict=True) if eligible[i, j]}
        if turns:
            assigned |= _split_fragments(voices, scores, eligible, assigned, turns)
    names = []
    for i, voice in enumerate(voices):
        if i in assigned:
            person = people[assigned[i]]
            similarity = float(scores[i, assigned[i]])
            names.append(
                SpeakerName(voice.speaker, voice.speaking_ms, person, ids.get(person), round(similarity, 4))
            )
        elif people:
            best = int(np.argmax(scores[i]))
            names.append(
                SpeakerName(
                    voice.speaker,
                    voice.speaking_ms,
                    similarity=round(float(scores[i, best]), 4),
                    candidate=people[best],
                    mixed=bool(mixed[i, best]),
                )
            )
        else:
            names.append(SpeakerName(voice.speaker, voice.speaking_ms))
    return names


def _split_fragments(
    voices: Sequence[Voice],
    scores: np.ndarray,
    eligible: np.ndarray,
    assigned: dict[int, int],
    turns: Sequence[Turn],
) -> dict[int, int]:
    """Unassigned voices whose best person is assigned to a speaker they never talk over: voice -> person."""
    speaker_of = {j: i for i, j in assigned.items()}
    found = {}
    for i in range(len(voices)):
        if i in assigned:
            continue
        j = int(np.argmax(scores[i]))
        if not eligible[i, j] or j not in speaker_of:
            continue
        first, second = voices[speaker_of[j]], voices[i]
        shorter = max(min(first.speaking_ms, second.speaking_ms), 1)
        if overlap_ms(turns, first.speaker, second.speaker) <= SPLIT_MAX_OVERLAP * shorter:
            found[i] = j
    return found


def overlap_ms(turns: Sequence[Turn], a: str, b: str) -> int:
    """How long speakers ``a`` and ``b`` talk at the same time (a sweep over both speakers' turns)."""
    spans_a = sorted((t.start_ms, t.end_ms) for t in turns if t.speaker == a)
    spans_b = sorted((t.start_ms, t.end_ms) for t in turns if t.speaker == b)
    total, i, j = 0, 0, 0
    while i < len(spans_a) and j < len(spans_b):
        total += max(0, min(spans_a[i][1], spans_b[j][1]) - max(spans_a[i][0], spans_b[j][0]))
        if spans_a[i][1] < spans_b[j][1]:
            i += 1
        else:
            j += 1
    return total


_TITLE = (
    r"(?:Senator|Sen\.|Representative|Rep\.|Congressman|Congresswoman|Chairman|Chairwoman|Chair|"
    r"Ranking Member|Secretary|Administrator|Commissioner|Director|Governor|Mayor|Judge|General|Admiral|"
    r"Councilmember|Council Member|Dr\.|Doctor|Professor|Mr\.|Mrs\.|Ms\.|Miss)"
)
_NAME = r"(?P<name>" + _TITLE + r"\s+[A-Z][\w'\-]+(?:\s+[A-Z][\w'\-]+){0,2})"
# A role instead of a name ("I now recognize the ranking member"): still worth showing next to the speaker.
_ROLE = (
    r"(?P<name>(?i:ranking member|chair(?:man|woman)?|vice chair(?:man|woman)?)"
    r"|(?i:gentle(?:man|woman|lady)|senator|representative|member) from [A-Z][a-z]+(?: [A-Z][a-z]+)?)"
)
# Said by a chair handing over the floor; each ends where the introduced person's name does.
_CUE_PATTERNS = [
    re.compile(p)
    for p in (
        r"\b(?:now |next )?recogni[sz]e(?:s|d)?\s+(?:the\s+)?" + _NAME,
        r"\brecogni[sz]e(?:s|d)?\s+the\s+" + _ROLE,
        r"\b(?:first|next|second|third|fourth|fifth|final|last)\s+witness(?:\s+(?:is|will be|today is))?,?\s+"
        + _NAME,
        r"\b(?:welcome|call on|turn to|yield to|go to)\s+" + _NAME,
        r"\b" + _NAME + r",?\s+you(?:'re| are) recogni[sz]ed",
        r"\b" + _NAME + r",?\s+(?:the floor is yours|please proceed|you may proceed|you have the floor)",
    )
]


def find_cues(segments: Sequence[Segment], within_ms: int = 30_000) -> list[Cue]:
    """Introductions in the transcript, each with the speaker who talks next (within ``within_ms``).

    Of several introductions in one segment only the last is kept: the floor goes to whoever was named
    last ("our first witness is Dr. Lee ... I now recognize Senator Cantwell")."""
    cues = []
    for n, segment in enumerate(segments):
        found = [m for pattern in _CUE_PATTERNS for m in pattern.finditer(segment.text)]
        if not found:
            continue
        last = max(found, key=lambda m: m.start("name"))
        following = next(
            (s for s in segments[n + 1 :] if s.speaker and s.speaker != segment.speaker),
            None,
        )
        if following is None or following.speaker is None or following.start_ms - segment.end_ms > within_ms:
            continue
        name = last.group("name").rstrip(".,")
        cues.append(Cue(following.speaker, name, segment.speaker, segment.start_ms, last.group(0)))
    return _dedupe(cues)


def _dedupe(cues: list[Cue]) -> list[Cue]:
    """One cue per (speaker, name), the earliest; overlapping patterns find some twice."""
    seen: dict[tuple[str, str], Cue] = {}
    for cue in sorted(cues, key=lambda c: c.at_ms):
        seen.setdefault((cue.speaker, cue.name), cue)
    return list(seen.values())
