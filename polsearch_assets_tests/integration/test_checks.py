"""Asset checks on a real hearing: each passes on the pipeline's output and fails on a corrupted artifact."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow.parquet as pq
import pytest

from polsearch_assets.core.artifacts import (
    ALIGNED_SEGMENTS_JSON,
    DIARIZATION_FRAMES,
    DIARIZATION_JSON,
    RAW_AUDIO_SOURCE,
    SPEAKER_NAMES_JSON,
    TRANSCRIPT_JSON,
    VAD_CHUNKS_JSON,
    WORD_ARCHIVE_PARQUET,
    read_diarization,
)
from polsearch_assets.core.contracts import SpeakerFrames
from polsearch_assets.core.index.segments import SegmentIndex
from polsearch_assets.core.validation import (
    chunk_problems,
    diarization_problems,
    index_problems,
    transcript_problems,
)
from polsearch_assets.defs.hearing.checks import HEARING_CHECKS
from polsearch_assets.defs.platform.artifacts import LocalArtifactStore
from polsearch_assets_tests.fixtures.hearing import hearing_resources, run_checks, run_hearing
from polsearch_assets_tests.fixtures.synthetic import synthesize

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test


@dataclass
class Hearing:
    instance: dg.DagsterInstance
    resources: dict[str, object]
    key: str
    result: dg.ExecuteInProcessResult

    @property
    def store(self) -> LocalArtifactStore:
        return self.resources["artifact_store"]  # type: ignore[return-value]

    def path(self, name: str) -> Path:
        return Path(self.store.root) / self.key / name

    def edit_json(self, name: str, change: Callable[[dict], None]) -> None:
        document = json.loads(self.path(name).read_text())
        change(document)
        self.path(name).write_text(json.dumps(document))

    def check(self, asset: str, name: str = "contract") -> dg.AssetCheckEvaluation:
        key = dg.AssetCheckKey(dg.AssetKey(asset), name)
        result = run_checks(self.instance, self.resources, self.key, dg.AssetSelection.checks(key))
        (evaluation,) = result.get_asset_check_evaluations()
        return evaluation


@pytest.fixture(scope="module")
def hearing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hearing]:
    root = tmp_path_factory.mktemp("checks")
    synthesize(root, seed=5, minutes=0.5, speakers=2, name="short")
    resources = hearing_resources(root)
    with dg.instance_for_test() as instance:
        key, result = run_hearing(instance, resources, root / "short.wav")
        yield Hearing(instance, resources, key, result)


@pytest.fixture
def pristine(hearing: Hearing) -> Iterator[Hearing]:
    """The hearing, with every artifact restored (and any added one removed) after the test."""
    folder = Path(hearing.store.root) / hearing.key
    saved = {p: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    yield hearing
    for path in folder.iterdir():
        if path not in saved:
            path.unlink()
    for path, data in saved.items():
        path.write_bytes(data)


def test_every_check_runs_with_its_asset_and_passes(hearing: Hearing) -> None:
    assert hearing.result.success
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e for e in hearing.result.get_asset_check_evaluations()
    }
    assert set(evaluations) == {
        (c.check_key.asset_key.to_user_string(), c.check_key.name) for c in HEARING_CHECKS
    }
    for evaluation in evaluations.values():
        assert evaluation.passed, evaluation.description
        assert evaluation.partition == hearing.key and hearing.key in evaluation.description


@pytest.mark.parametrize(
    ("asset", "artifact", "corrupt", "expected"),
    [
        (
            "raw_audio",
            RAW_AUDIO_SOURCE,
            lambda d: d.update(duration_ms=d["duration_ms"] + 5000),
            "but raw_audio.json reports",
        ),
        (
            "vad_chunks",
            VAD_CHUNKS_JSON,
            lambda d: d["chunks"].append({**d["chunks"][-1], "index": len(d["chunks"])}),
            "before chunk",
        ),
        (
            "transcript",
            TRANSCRIPT_JSON,
            lambda d: d["segments"][0]["words"][0].update(start_ms=10_000_000, end_ms=10_000_500),
            "outside the audio",
        ),
        (
            "diarization",
            DIARIZATION_JSON,
            lambda d: d["turns"][0].update(start_ms=-400),
            "outside the audio",
        ),
        (
            "aligned_segments",
            ALIGNED_SEGMENTS_JSON,
            lambda d: d["segments"][1]["words"][0].pop("speaker"),
            "has no speaker",
        ),
        (  # one person given to two speakers
            "speaker_names",
            SPEAKER_NAMES_JSON,
            lambda d: [s.update(person="Chair", person_id="C1", similarity=0.99) for s in d["speakers"]],
            "C1 is named more than once: SPEAKER_0, SPEAKER_1",
        ),
        (  # a name below the match threshold
            "speaker_names",
            SPEAKER_NAMES_JSON,
            lambda d: d["speakers"][0].update(person="Chair", similarity=d["threshold"] - 0.1),
            "below the threshold",
        ),
        (
            "speaker_names",
            SPEAKER_NAMES_JSON,
            lambda d: d["speakers"][0].update(speaker="SPEAKER_9"),
            "are not the diarization's speakers",
        ),
    ],
)
def test_corrupted_artifacts_fail_their_check(pristine: Hearing, asset, artifact, corrupt, expected) -> None:
    pristine.edit_json(artifact, corrupt)
    evaluation = pristine.check(asset)
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert (
        evaluation.description.startswith(f"hearing {pristine.key}: ") and expected in evaluation.description
    )


def test_a_repetition_loop_in_the_transcript_is_a_warning_with_its_times(pristine: Hearing) -> None:
    def loop(document: dict) -> None:
        last = document["segments"][-1]
        start = last["start_ms"]
        words = [
            {"word": w, "start_ms": start + i * 100, "end_ms": start + i * 100 + 80, "confidence": 0.5}
            for i, w in enumerate(["Thank", "you."] * 8)
        ]
        last.update(text="Thank you. " * 8, words=words, end_ms=words[-1]["end_ms"])

    pristine.edit_json(TRANSCRIPT_JSON, loop)
    evaluation = pristine.check("transcript", "plausible_text")
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    assert "repetition at " in evaluation.description and "'thank you' x8" in evaluation.description
    stretches = evaluation.metadata["stretches"].value
    assert {"repetition", "rate"} <= {s["kind"] for s in stretches}
    assert all(s["start_ms"] >= 0 and s["end_ms"] > s["start_ms"] for s in stretches)
    assert pristine.check("transcript", "contract").passed  # a plausible-text warning breaks no contract


def test_frame_probabilities_are_part_of_the_diarization_contract(pristine: Hearing) -> None:
    """A diarization that says it has per-frame probabilities (sortformer's) is checked with them."""
    speakers = tuple(json.loads(pristine.path(DIARIZATION_JSON).read_text())["speakers"])
    count = -(-json.loads(pristine.path(RAW_AUDIO_SOURCE).read_text())["duration_ms"] // 80)
    pristine.edit_json(
        DIARIZATION_JSON,
        lambda d: d.update(frames={"artifact": DIARIZATION_FRAMES, "frame_ms": 80, "count": count}),
    )
    missing = pristine.check("diarization")
    assert not missing.passed and DIARIZATION_FRAMES in missing.description

    def write(frames: SpeakerFrames) -> None:
        pristine.store.write_bytes(pristine.key, DIARIZATION_FRAMES, frames.to_npz())

    write(SpeakerFrames(80, speakers, np.full((count, len(speakers)), 1.5, dtype=np.float32)))
    out_of_range = pristine.check("diarization")
    assert not out_of_range.passed and "frame probabilities outside 0..1" in out_of_range.description
    write(SpeakerFrames(80, speakers, np.full((count - 10, len(speakers)), 0.5, dtype=np.float32)))
    short = pristine.check("diarization")
    assert not short.passed and "do not cover" in short.description
    # and aligned_segments never pairs these turns with frames from another run
    with pytest.raises(ValueError, match=r"is not the one diarization\.json was written with"):
        read_diarization(pristine.store, pristine.key)
    write(SpeakerFrames(80, speakers, np.full((count, len(speakers)), 0.5, dtype=np.float32)))
    assert pristine.check("diarization").passed


def test_missing_index_rows_fail_the_index_check(pristine: Hearing) -> None:
    index = SegmentIndex(pristine.resources["lance_index"].uri)  # type: ignore[attr-defined]
    rows = index.rows(pristine.key)
    table = index._table()
    table.delete(f"hearing = '{pristine.key}' AND segment_index = {rows[-1]['segment_index']}")
    try:
        evaluation = pristine.check("hearing_index")
        assert not evaluation.passed
        assert f"segments missing from the index: [{rows[-1]['segment_index']}]" in evaluation.description
    finally:
        # Put the row back (the index is shared by this module's tests).
        table.add([{k: v for k, v in rows[-1].items() if not k.startswith("_")}])
    assert pristine.check("hearing_index").passed


def test_a_missing_or_truncated_archive_fails(pristine: Hearing) -> None:
    table = pq.read_table(pristine.path(WORD_ARCHIVE_PARQUET))
    pq.write_table(table.slice(0, table.num_rows - 1), pristine.path(WORD_ARCHIVE_PARQUET))
    evaluation = pristine.check("word_archive")
    assert not evaluation.passed and f"holds {table.num_rows - 1} words" in evaluation.description
    pristine.path(WORD_ARCHIVE_PARQUET).unlink()
    missing = pristine.check("word_archive")
    assert not missing.passed and "has no artifact 'word_archive.parquet'" in missing.description


def test_a_failed_blocking_check_stops_the_downstream_assets(pristine: Hearing) -> None:
    pristine.edit_json(
        VAD_CHUNKS_JSON, lambda d: d["chunks"].append({**d["chunks"][-1], "index": len(d["chunks"])})
    )
    vad_check = dg.AssetCheckKey(dg.AssetKey("vad_chunks"), "contract")
    result = run_checks(
        pristine.instance,
        pristine.resources,
        pristine.key,
        dg.AssetSelection.checks(vad_check) | dg.AssetSelection.assets("transcript"),
    )
    assert not result.success
    assert [e.passed for e in result.get_asset_check_evaluations()] == [False]
    assert result.get_asset_materialization_events() == []  # transcript did not run on broken chunks


def test_a_hearing_without_speech_warns(tmp_path: Path, media_files) -> None:
    resources = hearing_resources(tmp_path)
    with dg.instance_for_test() as instance:
        _, result = run_hearing(instance, resources, media_files["silent.wav"])
    assert result.success
    by_name = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    warning = by_name[("vad_chunks", "speech_found")]
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    assert "no speech detected" in warning.description
    assert all(e.passed for name, e in by_name.items() if name[1] == "contract")


def test_contract_rules() -> None:
    """The rules the checks apply, on hand-made documents."""
    chunks = {"duration_ms": 10_000, "chunks": [{"index": 0, "start_ms": 0, "end_ms": 6000, "speech": []},
                                                {"index": 1, "start_ms": 5000, "end_ms": 11_000, "speech": [{"start_ms": 4000, "end_ms": 5500}]}]}  # fmt: skip
    problems = chunk_problems(chunks, 10_000)
    assert any("before chunk 0 ends" in p for p in problems) and any(
        "outside the audio" in p for p in problems
    )
    assert any("speech 4000-5500 ms outside it" in p for p in problems)
    words = {"segments": [{"index": 0, "start_ms": 0, "end_ms": 900, "text": "a b",
                           "words": [{"word": "b", "start_ms": 500, "end_ms": 400}, {"word": "a", "start_ms": 100, "end_ms": 200, "confidence": 1.5}]}]}  # fmt: skip
    problems = transcript_problems(words, 1000)
    assert any("ends before it starts" in p for p in problems) and any(
        "before the word before it" in p for p in problems
    )
    assert any("confidence 1.5" in p for p in problems)
    turns = {
        "speakers": ["SPEAKER_0", "SPEAKER_1"],
        "turns": [{"speaker": "SPEAKER_1", "start_ms": 0, "end_ms": 10}],
    }
    assert any("first appearance" in p for p in diarization_problems(turns, 100))
    rows = [
        {
            "segment_index": 0,
            "start_time_ms": 0,
            "end_time_ms": 5,
            "speaker_label": "SPEAKER_0",
            "speaker_name": "SPEAKER_0",
            "text": "x",
        }
    ] * 2
    segments = [{"index": 0, "start_ms": 0, "end_ms": 5, "speaker": "SPEAKER_0", "text": "x"}]
    assert "the index holds duplicate rows for a segment" in index_problems(rows, segments)
