"""Naming speakers: matching voices to people as one assignment, introductions as suggestions, the library
table, voices kept through relabelling and window linking, names in the index and the exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polsearch_assets.core.contracts import Diarization, Segment, Turn, Voice, VoicePart
from polsearch_assets.core.index.export import export
from polsearch_assets.core.index.segments import (
    HearingInfo,
    NamedSpeaker,
    SegmentIndex,
    build_rows,
    reusable_vectors,
)
from polsearch_assets.core.index.voiceprints import Person, VoiceprintLibrary, people
from polsearch_assets.core.speakers.clustering import mean_voices, relabel_by_first_appearance, voice_parts
from polsearch_assets.core.speakers.linking import LocalSpeaker
from polsearch_assets.core.speakers.naming import MIXED_THRESHOLDS, Voiceprint, find_cues, match_speakers
from polsearch_assets.core.speakers.windowed import linked_voices
from polsearch_assets.core.validation import voices_problems

ENCODER = "campplus-192"
DIM = 8


def unit(*values: float) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[: len(values)] = values
    return vector / np.linalg.norm(vector)


def voice(label: str, vector: np.ndarray, ms: int = 10_000) -> Voice:
    return Voice(label, ms, vector)


def test_each_speaker_takes_the_person_whose_voiceprint_is_closest_above_the_threshold() -> None:
    prints = [
        Voiceprint("Sen. Maria Cantwell", "C000127", ENCODER, unit(1, 0, 0)),
        Voiceprint("Sen. Maria Cantwell", None, ENCODER, unit(1, 0.3, 0)),  # a second voiceprint of hers
        Voiceprint("Dr. Lee", None, ENCODER, unit(0, 1, 0)),
    ]
    voices = [
        voice("SPEAKER_0", unit(0.1, 1, 0)),
        voice("SPEAKER_1", unit(1, 0.32, 0)),
        voice("SPEAKER_2", unit(0, 0, 1)),
    ]
    names = {n.speaker: n for n in match_speakers(voices, prints, ENCODER, 0.8)}
    assert (names["SPEAKER_1"].person, names["SPEAKER_1"].person_id) == ("Sen. Maria Cantwell", "C000127")
    assert names["SPEAKER_1"].similarity == pytest.approx(1.0, abs=1e-3)  # her best voiceprint counts
    assert names["SPEAKER_0"].person == "Dr. Lee"
    assert names["SPEAKER_2"].person is None and names["SPEAKER_2"].candidate is not None  # below: unnamed


def test_one_person_names_at_most_one_speaker_of_a_hearing() -> None:
    prints = [Voiceprint("A", None, ENCODER, unit(1, 0)), Voiceprint("B", None, ENCODER, unit(0, 1))]
    # Both voices are nearest to A; independent nearest neighbours would name both A.
    voices = [voice("SPEAKER_0", unit(1, 0.05)), voice("SPEAKER_1", unit(1, 0.6))]
    names = {n.speaker: n.person for n in match_speakers(voices, prints, ENCODER, 0.5)}
    assert names == {"SPEAKER_0": "A", "SPEAKER_1": "B"}
    strict = {n.speaker: n.person for n in match_speakers(voices, prints, ENCODER, 0.9)}
    assert strict == {"SPEAKER_0": "A", "SPEAKER_1": None}  # B is too far from SPEAKER_1: unnamed, not A


def test_a_person_split_into_two_speakers_who_never_talk_at_once_names_both() -> None:
    prints = [Voiceprint("A", None, ENCODER, unit(1, 0, 0)), Voiceprint("B", None, ENCODER, unit(0, 1, 0))]
    voices = [
        voice("SPEAKER_0", unit(1, 0.1, 0)),
        voice("SPEAKER_1", unit(1, 0, 0.3)),
        voice("SPEAKER_2", unit(0, 0, 1)),
    ]
    apart = [Turn("SPEAKER_0", 0, 5_000), Turn("SPEAKER_2", 5_000, 9_000), Turn("SPEAKER_1", 9_000, 14_000)]
    names = {n.speaker: n.person for n in match_speakers(voices, prints, ENCODER, 0.8, apart)}
    assert names == {"SPEAKER_0": "A", "SPEAKER_1": "A", "SPEAKER_2": None}
    # Two voices of A that talk over each other for seconds are two people: only the closer one is A.
    together = [*apart, Turn("SPEAKER_1", 1_000, 4_000)]
    names = {n.speaker: n.person for n in match_speakers(voices, prints, ENCODER, 0.8, together)}
    assert names == {"SPEAKER_0": "A", "SPEAKER_1": None, "SPEAKER_2": None}
    # Without the turns, one speaker per person, as before.
    names = {n.speaker: n.person for n in match_speakers(voices, prints, ENCODER, 0.8)}
    assert names["SPEAKER_1"] is None


def halves(first: np.ndarray, second: np.ndarray, share: float = 0.5) -> tuple[VoicePart, ...]:
    return (VoicePart(1 - share, first), VoicePart(share, second))


def test_a_speaker_holding_two_peoples_speech_is_not_named_after_either() -> None:
    prints = [Voiceprint("A", None, ENCODER, unit(1, 0, 0)), Voiceprint("B", None, ENCODER, unit(0, 1, 0))]
    # The mean of A's and B's speech sits close enough to A to pass the threshold; its second half is B's.
    merged = Voice("SPEAKER_0", 30_000, unit(1, 0.45, 0), halves(unit(1, 0.05, 0), unit(0.1, 1, 0), 0.3))
    name = match_speakers([merged], prints, ENCODER, 0.85)[0]
    assert (name.person, name.candidate, name.mixed) == (None, "A", True)
    # The same mean with two halves of one voice is A.
    pure = Voice("SPEAKER_0", 30_000, merged.embedding, halves(unit(1, 0.4, 0), unit(1, 0.5, 0)))
    assert match_speakers([pure], prints, ENCODER, 0.85)[0].person == "A"
    # A voice without halves (a short speaker; a diarization from before halves) is judged by its mean.
    bare = Voice("SPEAKER_0", 30_000, merged.embedding)
    assert match_speakers([bare], prints, ENCODER, 0.85)[0].person == "A"
    # A half too small to be a second person (crosstalk, a few back-channels) refuses nothing.
    crumb = Voice("SPEAKER_0", 30_000, merged.embedding, halves(unit(1, 0.05, 0), unit(0.1, 1, 0), 0.05))
    assert match_speakers([crumb], prints, ENCODER, 0.85)[0].person == "A"
    # Nor is the merged speaker named as a split-off fragment of A's own speaker.
    own = voice("SPEAKER_1", unit(1, 0, 0))
    apart = [Turn("SPEAKER_1", 0, 5_000), Turn("SPEAKER_0", 5_000, 9_000)]
    names = {n.speaker: n.person for n in match_speakers([merged, own], prints, ENCODER, 0.85, apart)}
    assert names == {"SPEAKER_0": None, "SPEAKER_1": "A"}
    # An encoder with no calibrated threshold for halves keeps the mean's verdict.
    assert ENCODER in MIXED_THRESHOLDS and "resemblyzer-256" not in MIXED_THRESHOLDS
    other = [Voiceprint("A", None, "resemblyzer-256", unit(1, 0, 0))]
    assert match_speakers([merged], other, "resemblyzer-256", 0.85)[0].person == "A"


def test_a_speakers_windows_split_along_the_two_voices_they_hold() -> None:
    rng = np.random.default_rng(3)
    a = np.stack([unit(1, *rng.normal(0, 0.15, 3)) for _ in range(14)])
    b = np.stack([unit(0, 1, *rng.normal(0, 0.15, 2)) for _ in range(6)])
    labels = np.array([0] * 20 + [1] * 7)
    parts = voice_parts(np.concatenate([a, b, a[:7]]), labels)
    shares = sorted(round(p.share, 2) for p in parts["0"])
    assert shares == [0.3, 0.7]  # 6 of B's windows in 20
    assert {round(float(p.embedding @ unit(1)), 1) > 0.9 for p in parts["0"]} == {True, False}
    assert "1" not in parts  # 7 windows: too few to split
    # The same windows give the same halves (the start is deterministic).
    again = voice_parts(np.concatenate([a, b, a[:7]]), labels)["0"]
    assert all(np.array_equal(x.embedding, y.embedding) for x, y in zip(parts["0"], again, strict=True))


def test_voice_halves_survive_the_diarization_document() -> None:
    kept = Voice("SPEAKER_0", 9_000, unit(1, 0), halves(unit(1, 0.1), unit(0.2, 1), 0.25))
    back = Voice.from_json(kept.to_json())
    assert [round(p.share, 2) for p in back.parts] == [0.75, 0.25]
    assert np.allclose(back.parts[1].embedding, kept.parts[1].embedding, atol=1e-6)
    assert Voice.from_json(voice("SPEAKER_0", unit(1, 0)).to_json()).parts == ()  # before halves: none


def test_voices_of_another_encoder_or_no_threshold_name_nobody() -> None:
    prints = [Voiceprint("A", None, "resemblyzer-256", unit(1, 0))]
    assert match_speakers([voice("SPEAKER_0", unit(1, 0))], prints, ENCODER, 0.5)[0].person is None
    same = [Voiceprint("A", None, ENCODER, unit(1, 0))]
    assert match_speakers([voice("SPEAKER_0", unit(1, 0))], same, ENCODER, None)[0].person is None
    assert match_speakers([], same, ENCODER, 0.5) == []


def segment(index: int, start: int, speaker: str, text: str) -> Segment:
    return Segment(index, start, start + 1000, text, speaker=speaker)


def test_introductions_suggest_the_next_speaker_and_never_name_anyone() -> None:
    segments = [
        segment(0, 0, "SPEAKER_0", "Thank you. I now recognize the ranking member for her questions."),
        segment(1, 1500, "SPEAKER_2", "Thank you, mister chairman."),
        segment(2, 3000, "SPEAKER_0", "Our first witness is Dr. Jane Lee. I now recognize Senator Cantwell."),
        segment(3, 4500, "SPEAKER_0", "Please."),
        segment(4, 6000, "SPEAKER_3", "I am glad to be here."),
        segment(5, 8000, "SPEAKER_0", "The chair recognizes the gentlewoman from Washington."),
        segment(6, 200_000, "SPEAKER_1", "Much later, someone else."),
    ]
    cues = [(c.speaker, c.name, c.said_by) for c in find_cues(segments)]
    assert cues == [
        ("SPEAKER_2", "ranking member", "SPEAKER_0"),
        ("SPEAKER_3", "Senator Cantwell", "SPEAKER_0"),  # named last: the floor is Cantwell's
    ]  # the gentlewoman: nobody else spoke within 30 s


def test_the_library_keeps_people_replaces_a_renamed_speaker_and_forgets(tmp_path: Path) -> None:
    library = VoiceprintLibrary(str(tmp_path / "lancedb"))
    assert library.rows() == [] and library.version() == 0 and library.forget("nobody") == 0
    cantwell = Person("Sen. Maria Cantwell", "C000127", "Senator", "D", "WA")
    library.enrol(cantwell, "h1", voice("SPEAKER_3", unit(1, 0)), ENCODER)
    library.enrol(Person("Sen. Cantwell (typo)"), "h1", voice("SPEAKER_1", unit(0, 1)), ENCODER)
    library.enrol(Person("Dr. Lee"), "h1", voice("SPEAKER_1", unit(0, 1)), ENCODER)  # renamed: replaced
    library.enrol(cantwell, "h2", voice("SPEAKER_0", unit(1, 0.1)), ENCODER)
    listing = people(library.rows())
    assert [(p["person"], p["person_id"], p["voiceprints"], p["hearings"]) for p in listing] == [
        ("Dr. Lee", None, 1, ["h1"]),
        ("Sen. Maria Cantwell", "C000127", 2, ["h1", "h2"]),
    ]
    row = next(r for r in library.rows() if r["hearing"] == "h2")
    assert (row["speaker"], row["speaking_ms"], row["encoder"], row["state"]) == (
        "SPEAKER_0",
        10_000,
        ENCODER,
        "WA",
    )
    assert row["added_at"] is not None and len(row["embedding"]) == DIM
    assert library.forget("C000127") == 2  # by id as well as by name
    assert [p["person"] for p in people(library.rows())] == ["Dr. Lee"]
    with pytest.raises(ValueError, match="needs a name"):
        Person("  ")


def test_voices_follow_relabelling_and_are_unit_length() -> None:
    turns = [Turn("7", 0, 1000), Turn("3", 1000, 4000), Turn("7", 5000, 5500)]
    embeddings = np.array([[2, 0], [0, 3], [1, 1], [4, 0]], dtype=np.float32)
    labels = np.array([7, 3, 3, 7])
    result = relabel_by_first_appearance(turns, voices=mean_voices(embeddings, labels), voice_encoder=ENCODER)
    assert result.speakers == ("SPEAKER_0", "SPEAKER_1") and result.voice_encoder == ENCODER
    by = {v.speaker: v for v in result.voices}
    assert by["SPEAKER_0"].speaking_ms == 1500 and by["SPEAKER_1"].speaking_ms == 3000
    np.testing.assert_allclose(by["SPEAKER_0"].embedding, [1, 0], atol=1e-6)  # cluster 7: both along x
    assert all(abs(np.linalg.norm(v.embedding) - 1) < 1e-6 for v in result.voices)
    document = {"hearing": "h", **result.to_json()}
    assert voices_problems(document) == []
    assert Diarization.from_json(document).voices[1].speaker == "SPEAKER_1"
    document["voices"][0]["speaking_ms"] = 1
    document["voices"][1]["embedding"] = [2.0, 0.0]
    problems = voices_problems(document)
    assert any("1 ms of speech" in p for p in problems) and any(
        "not a finite unit vector" in p for p in problems
    )
    assert voices_problems({"speakers": [], "turns": []}) == [
        "no voices: diarized before voices were kept; re-materialize diarization"
    ]


def test_linked_window_speakers_make_one_voice_weighted_by_speech() -> None:
    speakers = [
        LocalSpeaker(0, "speaker_0", np.array([1.0, 0.0]), 9000),
        LocalSpeaker(1, "speaker_1", np.array([0.0, 2.0]), 1000),
        LocalSpeaker(1, "speaker_0", np.array([0.0, 1.0]), 5000),
    ]
    voices = linked_voices(speakers, {(0, "speaker_0"): 0, (1, "speaker_1"): 0, (1, "speaker_0"): 1})
    np.testing.assert_allclose(voices["G0"], [9000, 1000])  # unit vectors weighted by speech
    np.testing.assert_allclose(voices["G1"], [0, 5000])


def test_index_rows_carry_names_labels_and_ids_and_the_filter_finds_people(tmp_path: Path) -> None:
    index = SegmentIndex(str(tmp_path / "lancedb"), DIM)
    info = HearingInfo("h1", "Bridges", None, None, None, None)
    segments = [
        {"index": i, "start_ms": i * 1000, "end_ms": i * 1000 + 900, "speaker": f"SPEAKER_{i % 2}", "text": f"bridges {i}"}
        for i in range(4)
    ]  # fmt: skip
    vectors = np.stack([unit(1, i) for i in range(4)])
    names = {"SPEAKER_1": NamedSpeaker("Sen. Maria Cantwell", "C000127")}
    assert index.replace_hearing("h1", build_rows(info, segments, vectors, names, "model-a"))
    rows = index.rows("h1")
    assert [(r["speaker_name"], r["speaker_label"], r["person_id"]) for r in rows[:2]] == [
        ("SPEAKER_0", "SPEAKER_0", None),
        ("Sen. Maria Cantwell", "SPEAKER_1", "C000127"),
    ]
    # The same rows again: nothing is written (no new table version).
    version = index._table().version
    assert not index.replace_hearing("h1", build_rows(info, segments, vectors, names, "model-a"))
    assert index._table().version == version
    assert set(reusable_vectors(index.rows("h1"), "model-a")) == {(i, f"bridges {i}") for i in range(4)}
    assert reusable_vectors(index.rows("h1"), "model-b") == {}
    for query in ("cantwell", "Sen. Maria Cantwell", "C000127", "MARIA"):
        hits = index.search("bridges", unit(1, 1), speaker=query, limit=10)
        assert {h["speaker_label"] for h in hits} == {"SPEAKER_1"}, query
    assert {h["speaker_name"] for h in index.search("bridges", unit(1, 1), speaker="SPEAKER_0")} == {
        "SPEAKER_0"
    }
    # LIKE's wildcards and quotes in a name match only themselves; nothing escapes the filter.
    for hostile in ("%", "R%1", "ER__", "' OR 1=1 --", "x' OR speaker_name LIKE '%"):
        assert index.search("bridges", unit(1, 1), speaker=hostile, limit=10) == [], hostile
    assert {h["speaker_label"] for h in index.search("bridges", unit(1, 1), speaker="r_0")} == {"SPEAKER_0"}


def test_an_index_from_before_names_gets_the_new_columns(tmp_path: Path) -> None:
    import lancedb
    import pyarrow as pa

    from polsearch_assets.core.index.segments import ADDED_FIELDS, TABLE_NAME, schema

    old = pa.schema([f for f in schema(DIM) if f.name not in {a.name for a in ADDED_FIELDS}])
    lancedb.connect(str(tmp_path / "lancedb")).create_table(TABLE_NAME, schema=old)
    index = SegmentIndex(str(tmp_path / "lancedb"), DIM)
    segments = [{"index": 0, "start_ms": 0, "end_ms": 900, "speaker": "SPEAKER_0", "text": "hello"}]
    info = HearingInfo("h1", None, None, None, None, None)
    index.replace_hearing("h1", build_rows(info, segments, np.stack([unit(1)]), {}, "model-a"))
    assert index.rows("h1")[0]["speaker_label"] == "SPEAKER_0"


def test_exports_show_names_and_the_rttm_keeps_labels() -> None:
    segments = [segment(0, 0, "SPEAKER_0", "Order."), segment(1, 2000, "SPEAKER_1", "Thank you.")]
    diarization = Diarization(
        ("SPEAKER_0", "SPEAKER_1"), (Turn("SPEAKER_0", 0, 1000), Turn("SPEAKER_1", 2000, 3000))
    )
    names = {"SPEAKER_1": "Sen. Maria Cantwell"}
    assert "Sen. Maria Cantwell: Thank you." in export("txt", "h1", segments, diarization, names)
    assert "Sen. Maria Cantwell: Thank you." in export("srt", "h1", segments, diarization, names)
    assert "<v Sen. Maria Cantwell>Thank you." in export("vtt", "h1", segments, diarization, names)
    assert '"speaker_name": "Sen. Maria Cantwell"' in export("json", "h1", segments, diarization, names)
    assert '"speaker": "SPEAKER_1"' in export("json", "h1", segments, diarization, names)
    rttm = export("rttm", "h1", segments, diarization, names)
    assert "SPEAKER_1" in rttm and "Cantwell" not in rttm
