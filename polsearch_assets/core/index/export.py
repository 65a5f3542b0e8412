"""Exporting a hearing's aligned transcript: JSON, SRT, WebVTT, plain text, and the diarization as RTTM.

Transcripts show a speaker by the person's name where ``speaker_names`` knows it (JSON keeps the label
too, as ``speaker``, and adds ``speaker_name``); the RTTM keeps the hearing's labels (``SPEAKER_N``), as
the diarization has them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace

from polsearch_assets.core.contracts import Diarization, Segment, segments_to_json

FORMATS = ("json", "srt", "vtt", "txt", "rttm")


def _clock(ms: int, separator: str) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{separator}{millis:03d}"


def _label(segment: Segment) -> str:
    return f"{segment.speaker}: " if segment.speaker else ""


def to_srt(segments: Sequence[Segment]) -> str:
    blocks = [
        f"{n}\n{_clock(s.start_ms, ',')} --> {_clock(s.end_ms, ',')}\n{_label(s)}{s.text}\n"
        for n, s in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(segments: Sequence[Segment]) -> str:
    blocks = [
        f"{_clock(s.start_ms, '.')} --> {_clock(s.end_ms, '.')}\n<v {s.speaker or 'UNKNOWN'}>{s.text}\n"
        for s in segments
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_txt(segments: Sequence[Segment]) -> str:
    return "".join(f"[{_clock(s.start_ms, '.')}] {_label(s)}{s.text}\n" for s in segments)


def to_rttm(file_id: str, diarization: Diarization) -> str:
    return "".join(
        f"SPEAKER {file_id} 1 {t.start_ms / 1000:.3f} {(t.end_ms - t.start_ms) / 1000:.3f} <NA> <NA> {t.speaker} <NA> <NA>\n"
        for t in diarization.turns
    )


def export(
    fmt: str,
    hearing: str,
    segments: Sequence[Segment],
    diarization: Diarization,
    names: Mapping[str, str] | None = None,
) -> str:
    """``names``: a person's name for each named hearing speaker label."""
    names = names or {}
    if fmt == "json":
        document = segments_to_json(list(segments))
        for segment in document["segments"]:
            if "speaker" in segment:
                segment["speaker_name"] = names.get(segment["speaker"], segment["speaker"])
        return json.dumps({"hearing": hearing, **document}, indent=1, ensure_ascii=False) + "\n"
    shown = [replace(s, speaker=names.get(s.speaker, s.speaker)) if s.speaker else s for s in segments]
    if fmt == "srt":
        return to_srt(shown)
    if fmt == "vtt":
        return to_vtt(shown)
    if fmt == "txt":
        return to_txt(shown)
    if fmt == "rttm":
        return to_rttm(hearing, diarization)
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
