import json

import pytest

from polsearch_assets.core.contracts import Diarization, Segment, Turn, Word
from polsearch_assets.core.index.export import export

SEGMENTS = [
    Segment(
        0,
        500,
        2500,
        "The committee will come to order.",
        (Word("The", 500, 700, 0.9, "SPEAKER_0"),),
        "SPEAKER_0",
    ),
    Segment(1, 3_723_004, 3_725_000, "Thank you.", (), "SPEAKER_1"),
]
DIARIZATION = Diarization(
    ("SPEAKER_0", "SPEAKER_1"), (Turn("SPEAKER_0", 500, 2500), Turn("SPEAKER_1", 3_723_004, 3_725_000))
)


def test_srt() -> None:
    assert export("srt", "h1", SEGMENTS, DIARIZATION) == (
        "1\n00:00:00,500 --> 00:00:02,500\nSPEAKER_0: The committee will come to order.\n\n"
        "2\n01:02:03,004 --> 01:02:05,000\nSPEAKER_1: Thank you.\n"
    )


def test_vtt_txt_rttm_json() -> None:
    vtt = export("vtt", "h1", SEGMENTS, DIARIZATION)
    assert vtt.startswith("WEBVTT\n\n00:00:00.500 --> 00:00:02.500\n<v SPEAKER_0>The committee")
    assert (
        export("txt", "h1", SEGMENTS, DIARIZATION).splitlines()[1] == "[01:02:03.004] SPEAKER_1: Thank you."
    )
    assert export("rttm", "h1", SEGMENTS, DIARIZATION).splitlines()[1] == (
        "SPEAKER h1 1 3723.004 1.996 <NA> <NA> SPEAKER_1 <NA> <NA>"
    )
    document = json.loads(export("json", "h1", SEGMENTS, DIARIZATION))
    assert document["hearing"] == "h1" and document["segments"][0]["words"][0]["speaker"] == "SPEAKER_0"
    with pytest.raises(ValueError, match="unknown export format"):
        export("docx", "h1", SEGMENTS, DIARIZATION)
