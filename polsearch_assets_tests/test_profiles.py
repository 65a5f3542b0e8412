"""One switch, POLSEARCH_PROFILE, selects every stage's backend; switching marks hearings stale."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
import soundfile as sf
from dagster._core.instance.ref import InstanceRef

from polsearch_assets.alignment import assign_speakers_by_frames
from polsearch_assets.assets.hearing import (
    ALIGNED_SEGMENTS_JSON,
    DIARIZATION_JSON,
    TRANSCRIPT_JSON,
    read_diarization,
)
from polsearch_assets.contracts import segments_from_json
from polsearch_assets.resources.artifacts import LocalArtifactStore
from polsearch_assets.resources.fastembed_embedder import FastEmbedEmbedder
from polsearch_assets.resources.nemo_backends import NemoTdtTranscriber, SortformerDiarizer

from .conftest import SAMPLE_WAV, backends_from_env
from .processes import json_from_fresh_interpreter, polsearch
from .tiny_nemo import TINY_SORTFORMER, TINY_TDT

HEARING_ASSET_NAMES = (
    "raw_audio", "vad_chunks", "transcript", "diarization", "aligned_segments", "hearing_index", "word_archive"
)  # fmt: skip

_CODE_VERSIONS = """
import json
from polsearch_assets.jobs import HEARING_ASSETS
print(json.dumps({a.key.to_user_string(): a.code_versions_by_key[a.key] for a in HEARING_ASSETS}))
"""


def code_versions(**env: str) -> dict[str, str]:
    """The hearing assets' code versions as a code location loaded with ``env`` sees them."""
    return json_from_fresh_interpreter(
        _CODE_VERSIONS, env, ("POLSEARCH_PROFILE", "POLSEARCH_ASR", "POLSEARCH_DIAR", "POLSEARCH_EMBEDDING")
    )


def test_the_production_profile_selects_every_production_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    backends = backends_from_env(monkeypatch, POLSEARCH_PROFILE="production")
    assert isinstance(backends.transcriber, NemoTdtTranscriber)
    assert isinstance(backends.diarizer, SortformerDiarizer)
    assert isinstance(backends.embedder, FastEmbedEmbedder)
    one_stage = backends_from_env(
        monkeypatch, POLSEARCH_PROFILE="production", POLSEARCH_EMBEDDING_BACKEND="sentence-transformers"
    )
    assert not isinstance(one_stage.embedder, FastEmbedEmbedder)  # a stage's own variable still wins


def test_an_unknown_profile_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ValueError,
        match="POLSEARCH_PROFILE='gpu' is not a known profile; choose one of: embedded, production",
    ):
        backends_from_env(monkeypatch, POLSEARCH_PROFILE="gpu")


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
    windows with frame-probability word speakers, and fastembed, through all seven assets and their
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
    for asset in HEARING_ASSET_NAMES:
        assert f"[{asset}] materialized" in ingest.stdout
    checks = [line for line in ingest.stdout.splitlines() if " check contract " in line]
    assert len(checks) == 7 and all(line.endswith("check contract passed") for line in checks), checks
    (hearing,) = json.loads(polsearch(env, "hearings", "--json").stdout)
    assert set(hearing["assets"].values()) == {"materialized"}

    store = LocalArtifactStore(root=env["POLSEARCH_ARTIFACT_ROOT"])
    transcript = store.read_json(key, TRANSCRIPT_JSON)
    assert (
        TINY_TDT in transcript["model"] and TINY_SORTFORMER in store.read_json(key, DIARIZATION_JSON)["model"]
    )
    diarization = read_diarization(store, key)
    assert diarization.frames is not None and len(diarization.speakers) >= 2
    # every word has the speaker its frames give it, as aligned_segments stored it
    aligned = segments_from_json(store.read_json(key, ALIGNED_SEGMENTS_JSON))
    words = [w for s in segments_from_json(transcript) for w in s.words]
    expected = assign_speakers_by_frames(words, diarization.frames, diarization.turns)
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
