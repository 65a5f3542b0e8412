"""The NeMo TDT transcription backend on a tiny Parakeet-architecture model, through its real loading path."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pytest

from polsearch_assets.backends.asr.nemo_tdt import NemoTdtTranscriber
from polsearch_assets.backends.nemo import (
    ModelNotFound,
    WrongModelKind,
    import_nemo_asr,
    resolve_nemo_model,
    restore_nemo_model,
    run_with_backoff,
)
from polsearch_assets.core.artifacts import TRANSCRIPT_JSON
from polsearch_assets.core.contracts import Chunk
from polsearch_assets.core.validation import transcript_problems
from polsearch_assets.defs.hearing.engines import TranscriberResource
from polsearch_assets.defs.hearing.registration import register_hearing
from polsearch_assets_tests.fixtures.hearing import backends_from_env, materialize
from polsearch_assets_tests.fixtures.media import SAMPLE_WAV
from polsearch_assets_tests.fixtures.tiny_nemo import TINY_SORTFORMER
from polsearch_assets_tests.fixtures.tiny_nemo import TINY_TDT as TINY

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test


def tiny_transcriber(cache: Path, **settings: object) -> NemoTdtTranscriber:
    return NemoTdtTranscriber.from_settings(model=TINY, model_cache_dir=str(cache), device="cpu", **settings)


def test_the_sample_hearing_transcribes_on_the_global_timeline(
    nemo_cache: Path, instance: dg.DagsterInstance, resources: dict[str, object]
) -> None:
    store = resources["artifact_store"]
    key = register_hearing(instance, store, str(SAMPLE_WAV)).entry.key
    resources = {
        **resources,
        "transcriber": TranscriberResource.of(tiny_transcriber(nemo_cache, batch_size=2)),
    }
    result = materialize(instance, resources, key, "raw_audio", "vad_chunks", "transcript")
    assert result.success
    document = store.read_json(key, TRANSCRIPT_JSON)
    chunks = store.read_json(key, "vad_chunks.json")
    assert transcript_problems(document, chunks["duration_ms"]) == []
    words = [w for s in document["segments"] for w in s["words"]]
    assert words, "the tiny model emits tokens for speech"
    spans = [(c["start_ms"], c["end_ms"]) for c in chunks["chunks"]]
    assert all(any(s <= w["start_ms"] <= w["end_ms"] <= e for s, e in spans) for w in words)
    assert all(w["confidence"] is None for w in words)  # TDT greedy decoding gives none; not invented
    assert document["model"].endswith(f"{TINY}:tdt-greedy")
    metadata = result.asset_materializations_for_node("transcript")[0].metadata
    assert metadata["confidence"].value == "not given by the model"


def test_out_of_memory_halves_the_batch_and_keeps_every_chunk(
    nemo_cache: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import torch

    chunks = [Chunk(i, s, s + 4000) for i, s in enumerate(range(0, 64_000, 8000))]  # 8 chunks
    transcriber = tiny_transcriber(nemo_cache, batch_size=8)
    log = logging.getLogger("test-oom")
    expected = transcriber.transcribe(SAMPLE_WAV, chunks, log)

    model = transcriber._model().result()
    real_transcribe = model.transcribe
    sizes: list[int] = []

    def transcribe_with_little_memory(audio: list, **kwargs: object) -> list:
        sizes.append(len(audio))
        if len(audio) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_transcribe(audio, **kwargs)

    model.transcribe = transcribe_with_little_memory
    try:
        with caplog.at_level(logging.WARNING, logger="test-oom"):
            segments = transcriber.transcribe(SAMPLE_WAV, chunks, log)
    finally:
        model.transcribe = real_transcribe
    assert sizes[:3] == [8, 4, 2] and set(sizes[3:]) == {2}
    assert [r.message for r in caplog.records] == [
        "GPU out of memory at batch size 8; retrying that batch at 4",
        "GPU out of memory at batch size 4; retrying that batch at 2",
    ]
    assert segments == expected  # nothing lost, nothing twice


def test_backoff_gives_up_at_batch_size_one_and_passes_other_errors() -> None:
    import torch

    def always_oom(batch: list[int]) -> list[int]:
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(torch.OutOfMemoryError):
        run_with_backoff([1, 2, 3], 4, always_oom)

    def broken(batch: list[int]) -> list[int]:
        raise ValueError("bad audio")

    with pytest.raises(ValueError, match="bad audio"):
        run_with_backoff([1, 2, 3], 4, broken)
    assert run_with_backoff([1, 2, 3, 4, 5], 2, lambda b: [x * 10 for x in b]) == [10, 20, 30, 40, 50]


def test_a_missing_model_names_the_path_and_how_to_fill_the_cache(tmp_path: Path) -> None:
    with pytest.raises(
        ModelNotFound,
        match=f"looked for {tmp_path}/nvidia/parakeet-tdt-0.6b-v2/\\*.nemo.*huggingface-cli download nvidia/parakeet-tdt-0.6b-v2",
    ):
        resolve_nemo_model("nvidia/parakeet-tdt-0.6b-v2", str(tmp_path))
    with pytest.raises(ModelNotFound, match="no model cache directory is set: set MODEL_CACHE_DIR"):
        resolve_nemo_model("nvidia/parakeet-tdt-0.6b-v2", "")
    with pytest.raises(ModelNotFound, match=f"NeMo model file {tmp_path}/gone.nemo does not exist"):
        NemoTdtTranscriber.from_settings(model=str(tmp_path / "gone.nemo")).transcribe(
            SAMPLE_WAV, [], logging.getLogger()
        )


def test_a_file_that_is_not_an_asr_model_is_refused(nemo_cache: Path, tmp_path: Path) -> None:
    from nemo.collections.asr.parts.mixins.diarization import SpkDiarizationMixin

    from polsearch_assets.backends.nemo import check_model_kind

    tdt = resolve_nemo_model(TINY, str(nemo_cache))
    with pytest.raises(WrongModelKind, match="is a EncDecRNNTBPEModel, not a diarization model"):
        check_model_kind(tdt, SpkDiarizationMixin, "a diarization")
    junk = tmp_path / "notes.nemo"
    junk.write_text("not an archive")
    with pytest.raises(WrongModelKind, match="is not a NeMo model archive"):
        NemoTdtTranscriber.from_settings(model=str(junk)).transcribe(SAMPLE_WAV, [], logging.getLogger())


def test_models_restore_in_parallel_threads_without_losing_the_working_directory(
    nemo_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NeMo's restore_from chdirs into a temporary directory it deletes after; the transcript and
    diarization models load in parallel threads at run start, and once two restores at the same time
    left one of them in the other's deleted directory (CI: FileNotFoundError '/tmp/tmpXXXX')."""
    import_nemo_asr()
    from nemo.collections.asr.models import ASRModel
    from nemo.collections.asr.parts.mixins.diarization import SpkDiarizationMixin

    monkeypatch.chdir(tmp_path)
    tdt = (resolve_nemo_model(TINY, str(nemo_cache)), ASRModel, "an ASR")
    sortformer = (resolve_nemo_model(TINY_SORTFORMER, str(nemo_cache)), SpkDiarizationMixin, "a diarization")
    loads = [tdt, sortformer] * 4
    with ThreadPoolExecutor(len(loads)) as pool:
        for _ in range(3):  # without the lock, a single round failed about one run in three
            models = list(pool.map(lambda load: restore_nemo_model(*load, "cpu"), loads))
    assert [type(m).__name__ for m in models[:2]] == ["EncDecRNNTBPEModel", "SortformerEncLabelModel"]
    assert not any(m.training for m in models)
    assert Path.cwd() == tmp_path


def test_the_backend_is_chosen_by_environment(nemo_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    transcriber = backends_from_env(
        POLSEARCH_ASR_BACKEND="nemo-tdt",
        POLSEARCH_NEMO_ASR_MODEL=TINY,
        MODEL_CACHE_DIR=str(nemo_cache),
        POLSEARCH_NEMO_BATCH_SIZE="4",
    ).transcriber
    assert isinstance(transcriber, NemoTdtTranscriber)
    assert (transcriber.model, transcriber.model_cache_dir, transcriber.batch_size) == (
        TINY,
        str(nemo_cache),
        4,
    )
