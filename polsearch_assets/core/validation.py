"""The stage data contracts as checks: each function lists what is wrong with an artifact (empty = valid).

Pure functions over the artifacts' JSON form, so the same rules run in the asset
checks, in tests and on artifacts copied off a deployment. Times are integer ms on
the hearing's global timeline, inside ``[0, duration_ms]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from polsearch_assets.core.contracts import SpeakerFrames

MAX_LISTED = 5  # problems spelled out in a check's description; the rest are counted


def summarize(problems: Sequence[str]) -> str:
    listed = "; ".join(problems[:MAX_LISTED])
    more = len(problems) - MAX_LISTED
    return listed + (f"; and {more} more" if more > 0 else "")


def _span_problems(label: str, start: Any, end: Any, duration_ms: int, *, allow_empty: bool) -> list[str]:
    if not isinstance(start, int) or not isinstance(end, int):
        return [f"{label} has non-integer times {start!r}-{end!r}"]
    problems = []
    if start > end or (start == end and not allow_empty):
        problems.append(f"{label} ends before it starts ({start}-{end} ms)")
    if start < 0 or end > duration_ms:
        problems.append(f"{label} ({start}-{end} ms) is outside the audio (0-{duration_ms} ms)")
    return problems


def _indexes_problems(label: str, indexes: Sequence[Any]) -> list[str]:
    return (
        []
        if list(indexes) == list(range(len(indexes)))
        else [f"{label} indexes are not 0..{len(indexes) - 1}"]
    )


def audio_problems(frames: int, sample_rate: int, channels: int, reported_duration_ms: int) -> list[str]:
    """raw_audio: a non-empty 16 kHz mono WAV as long as its metadata says."""
    problems = []
    if (sample_rate, channels) != (16_000, 1):
        problems.append(f"audio is {sample_rate} Hz x{channels}, not 16 kHz mono")
    if frames <= 0:
        problems.append("audio has no samples")
    actual_ms = frames * 1000 // sample_rate if sample_rate else 0
    if actual_ms != reported_duration_ms:
        problems.append(f"audio lasts {actual_ms} ms but raw_audio.json reports {reported_duration_ms} ms")
    return problems


def chunk_problems(document: dict[str, Any], duration_ms: int) -> list[str]:
    """vad_chunks: ordered, non-overlapping chunks inside the audio, their speech inside them."""
    chunks = document.get("chunks", [])
    problems = _indexes_problems("chunk", [c.get("index") for c in chunks])
    if document.get("duration_ms") != duration_ms:
        problems.append(
            f"vad_chunks.json says {document.get('duration_ms')} ms of audio, raw_audio {duration_ms} ms"
        )
    for chunk in chunks:
        label = f"chunk {chunk.get('index')}"
        problems += _span_problems(
            label, chunk.get("start_ms"), chunk.get("end_ms"), duration_ms, allow_empty=False
        )
        for region in chunk.get("speech", []):
            if not chunk["start_ms"] <= region["start_ms"] <= region["end_ms"] <= chunk["end_ms"]:
                problems.append(f"{label} has speech {region['start_ms']}-{region['end_ms']} ms outside it")
    for a, b in pairwise(chunks):
        if (
            isinstance(a.get("end_ms"), int)
            and isinstance(b.get("start_ms"), int)
            and b["start_ms"] < a["end_ms"]
        ):
            problems.append(
                f"chunk {b.get('index')} starts at {b['start_ms']} ms, before chunk {a.get('index')} ends"
            )
    return problems


def _words_problems(segments: Sequence[dict[str, Any]], duration_ms: int, *, need_speaker: bool) -> list[str]:
    problems: list[str] = []
    previous_start = -1
    for segment in segments:
        for word in segment.get("words", []):
            label = f"word {word.get('word')!r} of segment {segment.get('index')}"
            problems += _span_problems(
                label, word.get("start_ms"), word.get("end_ms"), duration_ms, allow_empty=True
            )
            start = word.get("start_ms")
            if isinstance(start, int):
                if start < previous_start:
                    problems.append(
                        f"{label} starts at {start} ms, before the word before it ({previous_start} ms)"
                    )
                previous_start = max(previous_start, start)
            if need_speaker and not word.get("speaker"):
                problems.append(f"{label} has no speaker")
            confidence = word.get("confidence")
            if confidence is not None and not 0 <= confidence <= 1:
                problems.append(f"{label} has confidence {confidence} outside 0..1")
    return problems


def _timeline_problems(
    kind: str,
    items: Sequence[dict[str, Any]],
    label: Callable[[int, dict[str, Any]], str],
    duration_ms: int,
    *,
    allow_empty: bool,
) -> list[str]:
    """Every item's span inside the audio with start <= end, and the items in time order."""
    problems = []
    for number, item in enumerate(items):
        problems += _span_problems(
            label(number, item),
            item.get("start_ms"),
            item.get("end_ms"),
            duration_ms,
            allow_empty=allow_empty,
        )
    starts = [i.get("start_ms") for i in items]
    if all(isinstance(s, int) for s in starts) and starts != sorted(starts):
        problems.append(f"{kind} are not in time order")
    return problems


def _segments_problems(segments: Sequence[dict[str, Any]], duration_ms: int) -> list[str]:
    return _indexes_problems("segment", [s.get("index") for s in segments]) + _timeline_problems(
        "segments", segments, lambda _, s: f"segment {s.get('index')}", duration_ms, allow_empty=True
    )


def transcript_problems(document: dict[str, Any], duration_ms: int) -> list[str]:
    """transcript: segments and words inside the audio, start <= end, in time order, confidence in 0..1."""
    segments = document.get("segments", [])
    return _segments_problems(segments, duration_ms) + _words_problems(
        segments, duration_ms, need_speaker=False
    )


def diarization_problems(document: dict[str, Any], duration_ms: int) -> list[str]:
    """diarization: turns inside the audio, in time order, labels listed and numbered by first appearance."""
    turns = document.get("turns", [])
    speakers = document.get("speakers", [])
    problems = _timeline_problems(
        "turns", turns, lambda n, t: f"turn {n} ({t.get('speaker')})", duration_ms, allow_empty=False
    )
    first_appearance = list(dict.fromkeys(t.get("speaker") for t in turns))
    if sorted(first_appearance, key=str) != sorted(speakers, key=str):
        problems.append(f"speakers {speakers} differ from the labels used in turns {first_appearance}")
    expected = [f"SPEAKER_{n}" for n in range(len(first_appearance))]
    if first_appearance != expected:
        problems.append(f"labels are not numbered by first appearance: {first_appearance[:6]}")
    return problems


def voices_problems(document: dict[str, Any]) -> list[str]:
    """diarization voices: one per listed speaker, from one named encoder, unit length, one dimension, and
    the speaker's speaking time."""
    if "voice_encoder" not in document:
        return ["no voices: diarized before voices were kept; re-materialize diarization"]
    voices = document.get("voices", [])
    speakers = document.get("speakers", [])
    problems = []
    if [v.get("speaker") for v in voices] != list(speakers):
        problems.append(
            f"voices {[v.get('speaker') for v in voices][:6]} are not the speakers {speakers[:6]}"
        )
    talk: dict[str, int] = {}
    for turn in document.get("turns", []):
        talk[turn["speaker"]] = talk.get(turn["speaker"], 0) + turn["end_ms"] - turn["start_ms"]
    dimensions = {len(v.get("embedding", [])) for v in voices}
    if len(dimensions) > 1 or 0 in dimensions:
        problems.append(f"voice embeddings of differing or zero dimension: {sorted(dimensions)}")
    for voice in voices:
        vector = np.asarray(voice.get("embedding", []), dtype=np.float64)
        if not np.isfinite(vector).all() or abs(float(np.linalg.norm(vector)) - 1.0) > 1e-3:
            problems.append(f"voice of {voice.get('speaker')} is not a finite unit vector")
        if voice.get("speaking_ms") != talk.get(voice.get("speaker"), 0):
            problems.append(
                f"voice of {voice.get('speaker')} says {voice.get('speaking_ms')} ms of speech, "
                f"its turns hold {talk.get(voice.get('speaker'), 0)} ms"
            )
    return problems


def frames_problems(document: dict[str, Any], frames: SpeakerFrames, duration_ms: int) -> list[str]:
    """diarization frames: one row per frame of the audio, one column per listed speaker, values in 0..1."""
    section = document.get("frames", {})
    speakers = document.get("speakers", [])
    problems = []
    if list(frames.speakers) != list(speakers):
        problems.append(f"frame columns {list(frames.speakers)[:6]} are not the speakers {speakers[:6]}")
    if frames.probabilities.shape[1:] != (len(frames.speakers),):
        problems.append(f"frame matrix {frames.probabilities.shape} does not have one column per speaker")
    expected = -(-duration_ms // frames.frame_ms) if frames.frame_ms > 0 else None
    if len(frames.probabilities) != expected:
        problems.append(
            f"{len(frames.probabilities)} frames of {frames.frame_ms} ms do not cover {duration_ms} ms of audio"
        )
    if (section.get("frame_ms"), section.get("count")) != (frames.frame_ms, len(frames.probabilities)):
        problems.append(
            f"diarization.json says {section.get('count')} frames of {section.get('frame_ms')} ms, "
            f"the frames artifact holds {len(frames.probabilities)} of {frames.frame_ms} ms"
        )
    values = frames.probabilities
    if values.size and not (np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1):
        problems.append("frame probabilities outside 0..1")
    return problems


def aligned_problems(document: dict[str, Any], duration_ms: int) -> list[str]:
    """aligned_segments: the transcript rules, plus every word and segment assigned a speaker."""
    segments = document.get("segments", [])
    problems = _segments_problems(segments, duration_ms) + _words_problems(
        segments, duration_ms, need_speaker=True
    )
    for segment in segments:
        if not segment.get("speaker"):
            problems.append(f"segment {segment.get('index')} has no speaker")
        if not segment.get("words"):
            problems.append(f"segment {segment.get('index')} has no words")
    return problems


SIMILARITY_ROUNDING = 5e-5  # speaker_names stores similarities rounded to 4 decimals


def speaker_names_problems(document: dict[str, Any], diarization: dict[str, Any]) -> list[str]:
    """speaker_names: every diarized speaker listed once with its speaking time, from the diarization's voice
    encoder; each person named at most once, and only at or above the threshold; introductions point to a
    speaker of the hearing."""
    names = document.get("speakers", [])
    speakers = list(diarization.get("speakers", []))
    labels = [n.get("speaker") for n in names]
    problems = []
    if sorted(labels, key=str) != sorted(speakers) or len(set(labels)) != len(labels):
        problems.append(f"speakers {labels[:6]} are not the diarization's speakers {speakers[:6]}, once each")
    if document.get("encoder") != diarization.get("voice_encoder"):
        problems.append(
            f"voice encoder {document.get('encoder')!r} is not the diarization's {diarization.get('voice_encoder')!r}"
        )
    talk = {v.get("speaker"): v.get("speaking_ms") for v in diarization.get("voices", [])}
    threshold = document.get("threshold")
    named: dict[str, list[str]] = {}
    for name in names:
        label = name.get("speaker")
        if label in talk and name.get("speaking_ms") != talk[label]:
            problems.append(
                f"{label} says {name.get('speaking_ms')} ms of speech, its voice {talk[label]} ms"
            )
        if not name.get("person"):
            if name.get("person_id"):
                problems.append(f"{label} has a person id but no person")
            continue
        named.setdefault(name.get("person_id") or name["person"], []).append(label)
        similarity = name.get("similarity")
        if threshold is None or similarity is None or similarity < threshold - SIMILARITY_ROUNDING:
            problems.append(
                f"{label} is named {name['person']} at similarity {similarity} below the threshold {threshold}"
            )
    for person, labels_of_person in named.items():
        if len(labels_of_person) > 1:
            problems.append(f"{person} is named more than once: {', '.join(labels_of_person)}")
    for cue in document.get("cues", []):
        if cue.get("speaker") not in speakers:
            problems.append(
                f"introduction of {cue.get('name')!r} points to {cue.get('speaker')}, not a speaker"
            )
    return problems


def index_problems(rows: Sequence[dict[str, Any]], segments: Sequence[dict[str, Any]]) -> list[str]:
    """hearing_index: the hearing's rows are exactly its aligned segments (index, times, speaker label, text),
    and each row names its speaker (the person, or the label)."""

    def key(item: dict[str, Any], names: Iterable[str]) -> tuple[Any, ...]:
        return tuple(item.get(n) for n in names)

    have = {
        r["segment_index"]: key(r, ("start_time_ms", "end_time_ms", "speaker_label", "text")) for r in rows
    }
    want = {s["index"]: key(s, ("start_ms", "end_ms", "speaker", "text")) for s in segments}
    problems = []
    if len(rows) != len(segments):
        problems.append(f"the index holds {len(rows)} rows, the hearing has {len(segments)} aligned segments")
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    if missing:
        problems.append(
            f"segments missing from the index: {missing[:10]}{' ...' if len(missing) > 10 else ''}"
        )
    if extra:
        problems.append(
            f"index rows with no aligned segment: {extra[:10]}{' ...' if len(extra) > 10 else ''}"
        )
    differing = sorted(i for i in set(want) & set(have) if want[i] != have[i])
    if differing:
        problems.append(f"index rows that differ from their segment: {differing[:10]}")
    if len(have) != len(rows):
        problems.append("the index holds duplicate rows for a segment")
    unnamed = sorted(r["segment_index"] for r in rows if r.get("speaker_label") and not r.get("speaker_name"))
    if unnamed:
        problems.append(f"index rows with a speaker label but no speaker name: {unnamed[:10]}")
    return problems


def archive_problems(rows: Sequence[dict[str, Any]], segments: Sequence[dict[str, Any]]) -> list[str]:
    """word_archive: one row per aligned word, same order, times and speaker."""
    want = [
        (s["index"], i, w["word"], w["start_ms"], w["end_ms"], w.get("speaker"))
        for s in segments
        for i, w in enumerate(s.get("words", []))
    ]
    have = [
        (r["segment_index"], r["word_index"], r["word"], r["start_ms"], r["end_ms"], r["speaker"])
        for r in rows
    ]
    if len(have) != len(want):
        return [f"the archive holds {len(have)} words, the aligned segments {len(want)}"]
    differing = [n for n, (a, b) in enumerate(zip(have, want, strict=True)) if a != b]
    return (
        [f"{len(differing)} archived words differ from the aligned words, first at row {differing[0]}"]
        if differing
        else []
    )
