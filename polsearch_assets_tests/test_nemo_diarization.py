"""The Sortformer diarization backend on a tiny streaming Sortformer, through its real loading path.

Random weights cannot find real speakers: these tests check the contracts (global timeline, inside
the audio, ordered, SPEAKER_N by first appearance) and that the windowed path links window
speakers into global ones; the linking itself is tested on constructed embeddings in
test_speaker_linking.py.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from polsearch_assets.assets.audio import raw_audio, vad_chunks
from polsearch_assets.assets.hearing import DIARIZATION_JSON, diarization
from polsearch_assets.contract_checks import diarization_problems
from polsearch_assets.hearings import register_hearing
from polsearch_assets.nemo_models import WrongModelKind
from polsearch_assets.resources.nemo_backends import NemoTdtTranscriber, SortformerDiarizer

from .conftest import SAMPLE_WAV, backends_from_env
from .tiny_nemo import build_tiny_sortformer, build_tiny_tdt

TINY = "polsearch-tests/tiny-sortformer"


@pytest.fixture(scope="session")
def diar_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = tmp_path_factory.mktemp("diar-cache")
    build_tiny_sortformer(cache / TINY / "tiny-sortformer.nemo")
    return cache


def test_the_sample_hearing_diarizes_in_linked_windows(
    diar_cache: Path,
    instance: dg.DagsterInstance,
    resources: dict[str, object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = resources["artifact_store"]
    key = register_hearing(instance, store, str(SAMPLE_WAV)).entry.key
    diarizer = SortformerDiarizer(
        model=TINY, model_cache_dir=str(diar_cache), device="cpu", window_s=40, overlap_s=10
    )
    result = dg.materialize(
        [raw_audio, vad_chunks, diarization],
        partition_key=key,
        instance=instance,
        resources={**resources, "diarizer": diarizer},
    )
    assert result.success
    document = store.read_json(key, DIARIZATION_JSON)
    duration_ms = store.read_json(key, "vad_chunks.json")["duration_ms"]
    assert diarization_problems(document, duration_ms) == []
    turns = document["turns"]
    assert turns and all(0 <= t["start_ms"] < t["end_ms"] <= duration_ms for t in turns)
    first_seen = list(dict.fromkeys(t["speaker"] for t in sorted(turns, key=lambda t: t["start_ms"])))
    assert first_seen == [f"SPEAKER_{i}" for i in range(len(first_seen))]
    assert any(t["start_ms"] >= 60_000 for t in turns)  # the later windows' turns are on the global timeline
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("diarized window 3/3" in m for m in messages)  # 98.5 s: windows at 0, 30 and 60 s
    (linked,) = [m.split() for m in messages if m.startswith("linked ")]
    window_speakers, speakers = int(linked[1]), int(linked[5])
    assert speakers == len(document["speakers"]) < window_speakers  # voices heard in several windows merged
    modules = diarizer._model().result().sortformer_modules  # the long-audio streaming preset was applied
    assert (modules.chunk_len, modules.chunk_right_context, modules.fifo_len, modules.spkcache_len) == (
        340,
        40,
        40,
        188,
    )


def test_a_model_of_the_wrong_kind_is_refused_both_ways(diar_cache: Path, tmp_path: Path) -> None:
    tdt = build_tiny_tdt(tmp_path / "asr" / "tdt.nemo", tmp_path / "build")
    with pytest.raises(WrongModelKind, match="is a EncDecRNNTBPEModel, not a diarization model"):
        SortformerDiarizer(model=str(tdt), device="cpu")._model().result()
    sortformer = diar_cache / TINY / "tiny-sortformer.nemo"
    with pytest.raises(WrongModelKind, match="is a SortformerEncLabelModel, not an ASR model"):
        NemoTdtTranscriber(model=str(sortformer), device="cpu")._model().result()


def test_the_backend_is_chosen_by_environment(diar_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    diarizer = backends_from_env(
        monkeypatch,
        POLSEARCH_DIARIZATION_BACKEND="sortformer",
        POLSEARCH_NEMO_DIAR_MODEL=TINY,
        MODEL_CACHE_DIR=str(diar_cache),
        POLSEARCH_DIAR_WINDOW_S="900",
    ).diarizer
    assert isinstance(diarizer, SortformerDiarizer)
    assert (diarizer.model, diarizer.window_s, diarizer.max_speakers) == (TINY, 900.0, 15)
    assert "diar_sortformer_4spk-v1" not in SortformerDiarizer().model  # CC-BY-NC, offline only
