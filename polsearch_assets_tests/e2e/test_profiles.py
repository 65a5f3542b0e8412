"""One switch, POLSEARCH_PROFILE, selects every stage's backend; switching marks hearings stale."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
import soundfile as sf
from dagster._core.instance.ref import InstanceRef

from polsearch_assets.backends.asr.nemo_tdt import NemoTdtTranscriber
from polsearch_assets.backends.diarization.sortformer import SortformerDiarizer
from polsearch_assets.backends.embedding.fastembed import FastEmbedEmbedder
from polsearch_assets.config import Settings
from polsearch_assets.core.artifacts import (
    ALIGNED_SEGMENTS_JSON,
    DIARIZATION_JSON,
    TRANSCRIPT_JSON,
    read_diarization,
)
from polsearch_assets.core.contracts import HEARING_ASSETS, segments_from_json
from polsearch_assets.core.speech.alignment import assign_speakers_by_frames, one_speaker_per_phrase
from polsearch_assets.definitions import build_definitions
from polsearch_assets.defs.platform.artifacts import LocalArtifactStore
from polsearch_assets_tests.fixtures.hearing import backends_from_env
from polsearch_assets_tests.fixtures.media import SAMPLE_WAV
from polsearch_assets_tests.fixtures.processes import polsearch
from polsearch_assets_tests.fixtures.tiny_nemo import TINY_SORTFORMER, TINY_TDT


def code_versions(**env: str) -> dict[str, str]:
    """The hearing assets' code versions as a code location built with ``env`` sees them."""
    location = build_definitions(Settings.from_env(env))
    return {
        name: location.resolve_assets_def(name).code_versions_by_key[dg.AssetKey(name)]
        for name in HEARING_ASSETS
    }


def test_the_production_profile_selects_every_production_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    backends = backends_from_env(POLSEARCH_PROFILE="production")
    assert isinstance(backends.transcriber, NemoTdtTranscriber)
    assert isinstance(backends.diarizer, SortformerDiarizer)
    assert isinstance(backends.embedder, FastEmbedEmbedder)
    one_stage = backends_from_env(
        POLSEARCH_PROFILE="production", POLSEARCH_EMBEDDING_BACKEND="sentence-transformers"
    )
    assert not isinstance(one_stage.embedder, FastEmbedEmbedder)  # a stage's own variable still wins


def test_an_unknown_profile_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ValueError,
        match="POLSEARCH_PROFILE='gpu': Input should be 'embedded' or 'production'",
    ):
        backends_from_env(POLSEARCH_PROFILE="gpu")


def test_switching_profile_marks_the_model_stages_stale() -> None:
    embedded, production = code_versions(), code_versions(POLSEARCH_PROFILE="production")
    changed = {name for name in embedded if embedded[name] != production[name]}
    assert changed == {"transcript", "diarization", "hearing_index"}
    assert "parakeet-tdt-0.6b-v2" in production["transcript"]
    assert "diar_streaming_sortformer_4spk-v2" in production["diarization"]


def test_the_sample_hearing_through_the_whole_graph_on_the_production_profile(
    cli_env: dict[str, str], nemo_cache: Path, onnx_model: Path, tmp_path: Path
) -> None:
    """`polsearch ingest` with POLSEARCH_PROFILE=production: tiny TDT, tiny streaming Sortformer in
    windows with frame-probability word speakers, and fastembed, through all eight assets and their
    contract checks; then a search through the same fastembed model."""
    env = {
        **cli_env,
        "POLSEARCH_PROFILE": "production",
        "MODEL_CACHE_DIR": str(nemo_cache),
        "POLSEARCH_NEMO_ASR_MODEL": TINY_TDT,
        "POLSEARCH_NEMO_DIAR_MODEL": TINY_SORTFORMER,
        "POLSEARCH_NEMO_DEVICE": "cpu",
        "POLSEARCH_DIAR_WINDOW_S": "40",
        "POLSEARCH_DIAR_OVERLAP_S": "10",
        "POLSEARCH_WORD_SPEAKERS": "frame-probabilities",
        "POLSEARCH_EMBEDDING_MODEL_PATH": str(onnx_model),
    }
    ingest = polsearch(env, "ingest", str(SAMPLE_WAV))
    assert ingest.returncode == 0, ingest.stdout + ingest.stderr
    key = ingest.stdout.strip().splitlines()[-1]
    for asset in HEARING_ASSETS:
        assert f"[{asset}] materialized" in ingest.stdout
    checks = [line for line in ingest.stdout.splitlines() if " check contract " in line]
    assert len(checks) == len(HEARING_ASSETS) and all(
        line.endswith("check contract passed") for line in checks
    ), checks
    (hearing,) = json.loads(polsearch(env, "hearings", "--json").stdout)
    assert set(hearing["assets"].values()) == {"materialized"}

    store = LocalArtifactStore(root=env["POLSEARCH_ARTIFACT_ROOT"])
    transcript = store.read_json(key, TRANSCRIPT_JSON)
    assert (
        TINY_TDT in transcript["model"] and TINY_SORTFORMER in store.read_json(key, DIARIZATION_JSON)["model"]
    )
    diarization = read_diarization(store, key)
    assert diarization.frames is not None and len(diarization.speakers) >= 2
    # every word has the speaker its frames give it (one per phrase), as aligned_segments stored it
    aligned = segments_from_json(store.read_json(key, ALIGNED_SEGMENTS_JSON))
    words = [w for s in segments_from_json(transcript) for w in s.words]
    expected = one_speaker_per_phrase(assign_speakers_by_frames(words, diarization.frames, diarization.turns))
    assert [w.speaker for s in aligned for w in s.words] == [w.speaker for w in expected]
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("aligned_segments"))
        assert event.asset_materialization.metadata["word_speakers"].value == "frame-probabilities"
        diarized = instance.get_latest_materialization_event(dg.AssetKey("diarization"))
        assert diarized.asset_materialization.metadata["windows"].value == 3

    # a hearing without speech: no frames and no words, and nothing to fail on
    silent = tmp_path / "recess.wav"
    sf.write(silent, np.zeros(16_000 * 5, dtype=np.int16), 16_000, subtype="PCM_16")
    recess = polsearch(env, "ingest", str(silent))
    assert recess.returncode == 0, recess.stdout + recess.stderr
    assert "[aligned_segments] materialized" in recess.stdout

    # random weights give random text; the index still finds each segment by its own text
    query = aligned[-1]
    found = polsearch(env, "search", query.text, "--json", "--limit", "3")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert {h["hearing"] for h in hits} == {key}
    assert (query.start_ms, query.speaker) in {(h["start_ms"], h["speaker"]) for h in hits}
