"""The whole hearing graph on the committed sample with the real embedded models: quality, search, re-runs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import jiwer
import pytest
from pyannote.core import Annotation
from pyannote.core import Segment as Span
from pyannote.metrics.diarization import DiarizationErrorRate

from polsearch_assets.core.artifacts import (
    ALIGNED_SEGMENTS_JSON,
    DIARIZATION_JSON,
    TRANSCRIPT_JSON,
    WORD_ARCHIVE_PARQUET,
)
from polsearch_assets.core.contracts import HEARING_ASSETS, Chunk
from polsearch_assets.core.index.segments import SegmentIndex
from polsearch_assets.defs.hearing.registration import register_hearing
from polsearch_assets.defs.platform.artifacts import LocalArtifactStore
from polsearch_assets.local.search import UnknownHearing, search
from polsearch_assets_tests.fixtures.hearing import assets_for, hearing_resources
from polsearch_assets_tests.fixtures.media import SAMPLE_DIR, SAMPLE_WAV
from polsearch_assets_tests.fixtures.synthetic import synthesize


@dataclass
class Deployment:
    instance: dg.DagsterInstance
    resources: dict[str, object]
    store: LocalArtifactStore
    index_uri: str

    def ingest(self, source: Path) -> tuple[str, dg.ExecuteInProcessResult]:
        key = register_hearing(self.instance, self.store, str(source)).entry.key
        result = dg.materialize(
            assets_for(self.resources), partition_key=key, instance=self.instance, resources=self.resources
        )
        return key, result

    def index(self) -> SegmentIndex:
        return SegmentIndex(self.index_uri, 384)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("deployment")
    resources = hearing_resources(root)
    store = resources["artifact_store"]
    with dg.instance_for_test() as instance:
        yield Deployment(instance, resources, store, str(root / "lancedb"))


@pytest.fixture(scope="module")
def sample(deployment: Deployment) -> tuple[str, dg.ExecuteInProcessResult]:
    return deployment.ingest(SAMPLE_WAV)


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def annotation(turns: list[tuple[float, float, str]]) -> Annotation:
    result = Annotation()
    for start, end, speaker in turns:
        result[Span(start, end)] = speaker
    return result


def reference() -> Annotation:
    rows = [line.split() for line in (SAMPLE_DIR / "sample_hearing.rttm").read_text().splitlines()]
    return annotation([(float(r[3]), float(r[3]) + float(r[4]), r[7]) for r in rows])


def hypothesis(deployment: Deployment, key: str) -> Annotation:
    turns = deployment.store.read_json(key, DIARIZATION_JSON)["turns"]
    return annotation([(t["start_ms"] / 1000, t["end_ms"] / 1000, t["speaker"]) for t in turns])


def test_every_asset_materialized_with_metadata(sample) -> None:
    key, result = sample
    assert result.success
    for asset in HEARING_ASSETS:
        (materialization,) = result.asset_materializations_for_node(asset)
        assert materialization.partition == key
        # every step says how long it took, and how fast that is against the hearing's 98.5 s of audio
        seconds = materialization.metadata["step_seconds"].value  # rounded to 1 ms
        assert seconds > 0
        rtf = materialization.metadata["real_time_factor"].value
        assert rtf == pytest.approx(98.5 / seconds, rel=0.01 + 0.0005 / seconds)
    (transcript,) = result.asset_materializations_for_node("transcript")
    assert transcript.metadata["real_time_factor"].value > 1
    assert "faster-whisper" in transcript.metadata["model"].value
    (diarization,) = result.asset_materializations_for_node("diarization")
    assert diarization.metadata["speaker_count"].value == 4
    assert diarization.metadata["segmentation_reused"].value is True  # one segmentation pass per hearing


def test_word_error_rate(deployment: Deployment, sample) -> None:
    key, _ = sample
    segments = deployment.store.read_json(key, TRANSCRIPT_JSON)["segments"]
    hyp = normalize(" ".join(s["text"] for s in segments))
    ref = normalize((SAMPLE_DIR / "sample_hearing.txt").read_text())
    wer = jiwer.wer(ref, hyp)
    print(f"WER {wer:.3f}")
    assert wer <= 0.15


def test_words_are_on_the_global_timeline(deployment: Deployment, sample) -> None:
    key, _ = sample
    words = [w for s in deployment.store.read_json(key, TRANSCRIPT_JSON)["segments"] for w in s["words"]]
    script = json.loads((SAMPLE_DIR / "sample_hearing.json").read_text())
    assert all(
        0 <= w["start_ms"] <= w["end_ms"] <= script["duration_ms"] and 0 <= w["confidence"] <= 1
        for w in words
    )
    # "corrosion" is said once in the script; the word's time must fall in that utterance, not chunk-relative.
    (utterance,) = [u for u in script["utterances"] if "corrosion" in u["text"]]
    (word,) = [w for w in words if "corrosion" in w["word"].lower()]
    assert utterance["start_ms"] - 500 <= word["start_ms"] <= utterance["end_ms"] + 500


def test_diarization_error_rate_and_speaker_count(deployment: Deployment, sample) -> None:
    key, _ = sample
    hyp = hypothesis(deployment, key)
    der = DiarizationErrorRate(collar=0.25)(reference(), hyp)
    print(f"DER {der:.3f}")
    assert der <= 0.20
    assert len(hyp.labels()) == len(reference().labels()) == 4


def test_search_finds_the_phrase_with_the_right_speaker(deployment: Deployment, sample) -> None:
    key, _ = sample
    script = json.loads((SAMPLE_DIR / "sample_hearing.json").read_text())
    phrase = "pilot program that uses sensors to monitor corrosion"
    (utterance,) = [u for u in script["utterances"] if phrase in u["text"].lower()]
    to_reference = DiarizationErrorRate().optimal_mapping(reference(), hypothesis(deployment, key))
    hits = search(phrase, index_uri=deployment.index_uri, limit=5)
    top = hits[0]
    assert phrase in normalize(top.text)
    assert to_reference[top.speaker] == utterance["speaker"]
    assert (
        top.hearing == key
        and top.start_ms <= utterance["start_ms"] + 500
        and top.url.endswith(f"#t={top.start_ms // 1000}")
    )
    only = search(phrase, hearing=key, speaker=top.speaker, index_uri=deployment.index_uri)
    assert only[0].text == top.text and {h.speaker for h in only} == {top.speaker}


def test_queries_that_match_nothing_and_unknown_hearings(deployment: Deployment, sample) -> None:
    assert search("xqzvbnm plorf", index_uri=deployment.index_uri) == []
    with pytest.raises(UnknownHearing):
        search("bridges", hearing="yt-AAAAAAAAAAA", index_uri=deployment.index_uri)


def test_index_rows_match_the_aligned_segments(deployment: Deployment, sample) -> None:
    key, _ = sample
    segments = deployment.store.read_json(key, ALIGNED_SEGMENTS_JSON)["segments"]
    rows = deployment.index().rows(key)
    assert [(r["segment_index"], r["text"], r["speaker_name"]) for r in rows] == [
        (s["index"], s["text"], s["speaker"]) for s in segments
    ]
    assert all(w.get("speaker") for s in segments for w in s["words"])  # every word has a speaker
    assert deployment.store.exists(key, WORD_ARCHIVE_PARQUET)


def test_rematerializing_and_a_second_hearing(deployment: Deployment, sample, tmp_path: Path) -> None:
    key, _ = sample
    before = deployment.index().rows(key)
    again, result = deployment.ingest(SAMPLE_WAV)
    assert again == key and result.success
    after = deployment.index().rows(key)
    assert len(after) == len(before) and len({r["segment_index"] for r in after}) == len(after)

    synthesize(tmp_path, seed=3, minutes=0.5, speakers=2, name="second")
    second, result = deployment.ingest(tmp_path / "second.wav")
    assert result.success and second != key
    assert deployment.index().rows(key) == after  # the first hearing's rows are untouched
    assert deployment.index().count() == len(after) + deployment.index().count(second)


def test_a_hearing_without_speech_indexes_nothing_and_succeeds(deployment: Deployment, media_files) -> None:
    key, result = deployment.ingest(media_files["silent.wav"])
    assert result.success
    (index,) = result.asset_materializations_for_node("hearing_index")
    assert index.metadata["rows"].value == 0 and index.metadata["indexed"].value is False
    assert deployment.store.read_json(key, DIARIZATION_JSON)["speakers"] == []
    assert deployment.index().count(key) == 0


def test_transcriber_accepts_a_model_directory_and_names_it(media_files) -> None:
    from polsearch_assets.backends.asr.faster_whisper import FasterWhisperTranscriber
    from polsearch_assets.backends.asr.whisper_models import model_path

    explicit = FasterWhisperTranscriber.from_settings(model=str(model_path("tiny.en")))
    assert (
        explicit.model_identity != FasterWhisperTranscriber.from_settings().model_identity
    )  # the configured model is named
    assert "model" in explicit.model_identity
    segments = explicit.transcribe(SAMPLE_WAV, [Chunk(0, 700, 7800)], _log())
    text = normalize(" ".join(s.text for s in segments))
    assert "committee will come to order" in text
    assert all(700 <= w.start_ms <= w.end_ms <= 7800 + 500 for s in segments for w in s.words)  # global times


def _log():
    import logging

    return logging.getLogger("test")
