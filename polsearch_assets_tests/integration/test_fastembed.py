"""The fastembed backend, loaded through its real path from an ONNX export of the bundled weights.

No model hub is reachable, so the session exports the bundled all-MiniLM-L6-v2 to ONNX with
``polsearch export-embedder`` (torch's exporter) and fastembed loads that directory, exactly as an
air-gapped deployment would.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from polsearch_assets.backends.embedding.fastembed import EmbeddingModelMissing, FastEmbedEmbedder
from polsearch_assets.backends.embedding.sentence_transformers import SentenceTransformerEmbedder
from polsearch_assets.cli import main
from polsearch_assets_tests.fixtures.hearing import backends_from_env
from polsearch_assets_tests.fixtures.media import SAMPLE_DIR

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test


def hearing_sentences() -> list[str]:
    """The sample hearing's utterances, plus one longer than the model's 256-token window."""
    utterances = json.loads((SAMPLE_DIR / "sample_hearing.json").read_text())["utterances"]
    texts = list(dict.fromkeys(u["text"] for u in utterances))  # a witness repeats one answer
    return [*texts, " ".join(texts)]


def test_the_export_is_in_fastembeds_layout(onnx_model: Path) -> None:
    assert {"model.onnx", "tokenizer.json", "tokenizer_config.json", "config.json"} <= {
        p.name for p in onnx_model.iterdir()
    }
    assert json.loads((onnx_model / "tokenizer_config.json").read_text())["model_max_length"] == 256


def test_vectors_match_the_embedded_profile(onnx_model: Path) -> None:
    texts = hearing_sentences()
    fast = FastEmbedEmbedder.from_settings(model_path=str(onnx_model)).embed(texts)
    reference = SentenceTransformerEmbedder.from_settings().embed(texts)
    assert fast.shape == reference.shape == (len(texts), 384) and fast.dtype == np.float32
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(fast * reference, axis=1)
    assert cosines.min() >= 0.99, cosines
    # comparable across profiles: each fastembed query finds its own sentence among the embedded vectors
    assert (np.argmax(fast @ reference.T, axis=1) == np.arange(len(texts))).all()


def test_the_backend_is_chosen_by_environment(onnx_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = backends_from_env(
        POLSEARCH_EMBEDDING_BACKEND="fastembed", POLSEARCH_EMBEDDING_MODEL_PATH=str(onnx_model)
    ).embedder
    assert isinstance(embedder, FastEmbedEmbedder)
    assert embedder.model_identity == "fastembed:sentence-transformers/all-MiniLM-L6-v2"
    assert (
        embedder.model_identity != SentenceTransformerEmbedder.from_settings().model_identity
    )  # hearing_index goes stale
    assert embedder.embed(["the committee will come to order"]).shape == (1, 384)


def test_a_directory_without_the_model_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(
        EmbeddingModelMissing, match=f"{tmp_path} has no model.onnx.*polsearch export-embedder"
    ):
        FastEmbedEmbedder.from_settings(model_path=str(tmp_path)).embed(["x"])


def test_an_empty_cache_fails_fast_without_downloading(tmp_path: Path) -> None:
    cache = tmp_path / "fastembed-cache"
    with pytest.raises(
        EmbeddingModelMissing, match=f"fastembed cache {cache}.*POLSEARCH_EMBEDDING_CACHE_DIR"
    ):
        FastEmbedEmbedder.from_settings(cache_dir=str(cache)).embed(["x"])


def test_export_refuses_a_directory_that_is_not_a_model(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["export-embedder", str(tmp_path / "out"), "--source", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a transformers model directory" in result.output
    assert not (tmp_path / "out").exists()
