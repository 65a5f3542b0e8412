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

from polsearch_assets.backends.asr.nemo_tdt import NemoTdtTranscriber
from polsearch_assets.backends.diarization.resemblyzer import ResemblyzerDiarizer
from polsearch_assets.backends.diarization.sortformer import SortformerDiarizer
from polsearch_assets.backends.nemo import WrongModelKind
from polsearch_assets.core.artifacts import DIARIZATION_FRAMES, DIARIZATION_JSON, read_diarization
from polsearch_assets.core.validation import diarization_problems, frames_problems, voices_problems
from polsearch_assets.defs.hearing.engines import DiarizerResource
from polsearch_assets.defs.hearing.registration import register_hearing
from polsearch_assets_tests.fixtures.hearing import backends_from_env, materialize
from polsearch_assets_tests.fixtures.media import SAMPLE_WAV
from polsearch_assets_tests.fixtures.tiny_nemo import TINY_SORTFORMER as TINY
from polsearch_assets_tests.fixtures.tiny_nemo import TINY_TDT

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test


def diarize_sample(
    instance: dg.DagsterInstance, resources: dict[str, object], diarizer: SortformerDiarizer
) -> tuple[str, dg.ExecuteInProcessResult, dict, int]:
    """The sample hearing through raw_audio, vad_chunks and diarization; its key, the run, the
    diarization document (its contract checked, frames included) and the audio's duration."""
    store = resources["artifact_store"]
    key = register_hearing(instance, store, str(SAMPLE_WAV)).entry.key
    resources = {**resources, "diarizer": DiarizerResource.of(diarizer)}
    result = materialize(instance, resources, key, "raw_audio", "vad_chunks", "diarization")
    assert result.success
    document = store.read_json(key, DIARIZATION_JSON)
    duration_ms = store.read_json(key, "vad_chunks.json")["duration_ms"]
    assert diarization_problems(document, duration_ms) == []
    # Each hearing speaker's voice: its window speakers' resemblyzer voices, the encoder linking used.
    assert voices_problems(document) == [] and document["voice_encoder"] == "resemblyzer-256"
    frames = read_diarization(store, key).frames
    assert frames is not None and frames_problems(document, frames, duration_ms) == []
    return key, result, document, duration_ms


def test_the_sample_hearing_diarizes_in_linked_windows(
    nemo_cache: Path, instance: dg.DagsterInstance, resources: dict[str, object]
) -> None:
    diarizer = SortformerDiarizer.from_settings(
        model=TINY, model_cache_dir=str(nemo_cache), device="cpu", window_s=40, overlap_s=10
    )
    key, result, document, duration_ms = diarize_sample(instance, resources, diarizer)
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
    metadata = result.asset_materializations_for_node("diarization")[0].metadata
    assert (metadata["windows"].value, metadata["window_speakers"].value) == (3, window_speakers)
    assert metadata["frame_probabilities"].value is True and metadata["frame_ms"].value == 80

    # The model's per-frame probabilities, stitched like the turns: 80 ms frames over the whole
    # hearing, one column per global speaker, and active where that speaker's turns are.
    frames = read_diarization(resources["artifact_store"], key).frames
    assert frames.probabilities.shape == (-(-duration_ms // 80), len(document["speakers"]))
    assert frames.speakers == tuple(document["speakers"])
    for turn in document["turns"][:20]:
        column = frames.speakers.index(turn["speaker"])
        inside = frames.probabilities[turn["start_ms"] // 80 : -(-turn["end_ms"] // 80), column]
        assert inside.max() > 0.1, turn  # NeMo's default onset threshold is far above 0.1
    modules = diarizer._model().result().sortformer_modules  # the long-audio streaming preset was applied
    assert (modules.chunk_len, modules.chunk_right_context, modules.fifo_len, modules.spkcache_len) == (
        340,
        40,
        40,
        188,
    )


def test_window_zero_diarizes_the_whole_hearing_in_one_pass(
    nemo_cache: Path, instance: dg.DagsterInstance, resources: dict[str, object]
) -> None:
    """The speaker cache alone: one streaming pass, nothing to link, the model's own speaker order."""
    diarizer = SortformerDiarizer.from_settings(
        model=TINY, model_cache_dir=str(nemo_cache), device="cpu", window_s=0
    )
    _, result, document, _ = diarize_sample(instance, resources, diarizer)
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any("diarized window 1/1" in m for m in messages)
    (linked,) = [m.split() for m in messages if m.startswith("linked ")]
    assert int(linked[1]) == int(linked[5]) == len(document["speakers"]) <= 4


def test_a_stale_frames_artifact_is_removed_when_the_backend_gives_none(
    nemo_cache: Path, instance: dg.DagsterInstance, resources: dict[str, object]
) -> None:
    store = resources["artifact_store"]
    diarizer = SortformerDiarizer.from_settings(
        model=TINY, model_cache_dir=str(nemo_cache), device="cpu", window_s=0
    )
    key, *_ = diarize_sample(instance, resources, diarizer)
    assert store.exists(key, DIARIZATION_FRAMES)
    # the embedded backend gives turns only: its run leaves no frames behind to pair with its turns
    resources = {
        **resources,
        "diarizer": DiarizerResource.of(ResemblyzerDiarizer.from_settings(cpu_threads=2)),
    }
    result = materialize(instance, resources, key, "diarization")
    assert result.success
    assert "frames" not in store.read_json(key, DIARIZATION_JSON)
    assert not store.exists(key, DIARIZATION_FRAMES)
    assert read_diarization(store, key).frames is None


def test_a_model_of_the_wrong_kind_is_refused_both_ways(nemo_cache: Path) -> None:
    tdt = nemo_cache / TINY_TDT / "tiny-parakeet-tdt.nemo"
    with pytest.raises(WrongModelKind, match="is a EncDecRNNTBPEModel, not a diarization model"):
        SortformerDiarizer.from_settings(model=str(tdt), device="cpu")._model().result()
    sortformer = nemo_cache / TINY / "tiny-sortformer.nemo"
    with pytest.raises(WrongModelKind, match="is a SortformerEncLabelModel, not an ASR model"):
        NemoTdtTranscriber.from_settings(model=str(sortformer), device="cpu")._model().result()


def sortformer_backends(cache: Path, **env: str):
    """The backends a code location builds with the tiny Sortformer chosen by environment, plus ``env``."""
    return backends_from_env(
        POLSEARCH_DIARIZATION_BACKEND="sortformer",
        POLSEARCH_NEMO_DIAR_MODEL=TINY,
        MODEL_CACHE_DIR=str(cache),
        **env,
    )


def test_the_backend_is_chosen_by_environment(nemo_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    diarizer = sortformer_backends(nemo_cache, POLSEARCH_DIAR_WINDOW_S="900").diarizer
    assert isinstance(diarizer, SortformerDiarizer)
    assert (diarizer.model, diarizer.window_s, diarizer.max_speakers) == (TINY, 900.0, 15)
    assert "diar_sortformer_4spk-v1" not in SortformerDiarizer.from_settings().model  # CC-BY-NC, offline only


def test_frame_probability_assignment_needs_a_backend_that_gives_frames(
    nemo_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backends = sortformer_backends(
        nemo_cache, POLSEARCH_DIAR_OVERLAP_S="30", POLSEARCH_WORD_SPEAKERS="frame-probabilities"
    )
    assert (backends.word_speakers, backends.diarizer.overlap_s) == ("frame-probabilities", 30.0)
    with pytest.raises(
        ValueError, match=r"needs a diarization backend that gives per-frame .* ResemblyzerDiarizer"
    ):
        backends_from_env(
            POLSEARCH_DIARIZATION_BACKEND="resemblyzer", POLSEARCH_WORD_SPEAKERS="frame-probabilities"
        )
    with pytest.raises(
        ValueError, match="POLSEARCH_WORD_SPEAKERS='nearest': Input should be 'max-overlap' or 'frame-prob"
    ):
        backends_from_env(POLSEARCH_WORD_SPEAKERS="nearest")


@pytest.mark.parametrize(("window", "overlap"), [("40", "40"), ("-5", "0"), ("40", "-1")])
def test_unsound_windows_are_refused_when_the_code_location_loads(
    window: str, overlap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        ValueError, match=r"window_s 0 \(one pass\) or 0 <= overlap_s < window_s.*POLSEARCH_DIAR_OVERLAP_S"
    ):
        backends_from_env(
            POLSEARCH_DIARIZATION_BACKEND="sortformer",
            POLSEARCH_DIAR_WINDOW_S=window,
            POLSEARCH_DIAR_OVERLAP_S=overlap,
        )
