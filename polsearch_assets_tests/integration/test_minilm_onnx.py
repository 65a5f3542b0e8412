"""The embedded profile's text embedder: all-MiniLM-L6-v2 exported once into the ONNX cache, run without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from polsearch_assets.backends.embedding.minilm_onnx import OnnxMiniLmEmbedder
from polsearch_assets.backends.embedding.sentence_transformers import SentenceTransformerEmbedder
from polsearch_assets_tests.fixtures.hearing import backends_from_env
from polsearch_assets_tests.integration.test_fastembed import hearing_sentences

pytestmark = pytest.mark.slow  # exports the model with torch once, and starts a fresh process

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ONNX cache holding the export the engine made on its first load (a fresh machine's first run)."""
    cache = tmp_path_factory.mktemp("onnx-cache")
    OnnxMiniLmEmbedder.from_settings(onnx_cache_dir=str(cache)).embed(["the committee will come to order"])
    return cache


def test_the_embedded_profile_embeds_with_it_and_no_hearing_goes_stale() -> None:
    embedder = backends_from_env().embedder
    assert isinstance(embedder, OnnxMiniLmEmbedder)
    # hearing_index's code version is unchanged from the sentence-transformers engine: the same vectors
    # (next test), so an upgraded deployment re-embeds nothing
    assert embedder.model_identity == "sentence-transformers:all-MiniLM-L6-v2"
    assert (
        embedder.model_identity
        == backends_from_env(POLSEARCH_EMBEDDING_BACKEND="sentence-transformers").embedder.model_identity
    )


def test_vectors_are_sentence_transformers_to_float_rounding(onnx_cache: Path) -> None:
    texts = hearing_sentences()  # the sample hearing's utterances and one text over the 256-token window
    vectors = OnnxMiniLmEmbedder.from_settings(onnx_cache_dir=str(onnx_cache)).embed(texts)
    reference = SentenceTransformerEmbedder.from_settings().embed(texts)
    assert vectors.shape == reference.shape == (len(texts), 384) and vectors.dtype == np.float32
    # measured 1.4e-7: float32 rounding, not another model; the long text's row also shows both cut it at the
    # same 256 tokens (the tokenizer file's own setting is 128)
    assert np.abs(vectors - reference).max() < 1e-6


def test_rows_keep_their_order_across_batches(onnx_cache: Path) -> None:
    texts = hearing_sentences()
    embedder = OnnxMiniLmEmbedder.from_settings(onnx_cache_dir=str(onnx_cache), batch_size=3)
    one_by_one = np.concatenate([embedder.embed([t]) for t in texts])
    assert np.abs(embedder.embed(texts) - one_by_one).max() < 1e-6


def test_the_export_is_made_once_and_kept(onnx_cache: Path) -> None:
    (export,) = onnx_cache.iterdir()
    assert export.name.startswith("minilm-") and (export / "model.onnx").is_file()
    made = (export / "model.onnx").stat().st_mtime_ns
    OnnxMiniLmEmbedder.from_settings(onnx_cache_dir=str(onnx_cache), threads=1).embed(["x"])  # another load
    assert (export / "model.onnx").stat().st_mtime_ns == made and [export] == list(onnx_cache.iterdir())


def test_a_run_embeds_without_importing_torch(onnx_cache: Path) -> None:
    """sentence-transformers pulled torch, transformers, scikit-learn and datasets into every run: more CPU
    than embedding a hearing's segments (BENCHMARKS.md, issue 25 item 5)."""
    script = (
        "import json, sys\n"
        "from polsearch_assets.backends.profiles import configured_backends\n"
        "from polsearch_assets.config import Settings\n"
        f"embedder = configured_backends(Settings(onnx_cache_dir={str(onnx_cache)!r})).embedder\n"
        "vectors = embedder.embed(['the committee will come to order', 'bridge inspections'])\n"
        "print(json.dumps({'shape': list(vectors.shape), 'heavy': sorted(m for m in "
        "('torch', 'transformers', 'sentence_transformers', 'sklearn') if m in sys.modules)}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {"shape": [2, 384], "heavy": []}


def test_an_unknown_model_directory_says_what_is_missing(tmp_path: Path) -> None:
    embedder = OnnxMiniLmEmbedder.from_settings(model_path=str(tmp_path), onnx_cache_dir=str(tmp_path / "c"))
    with pytest.raises(FileNotFoundError, match=f"{tmp_path} has no model.safetensors"):
        embedder.embed(["x"])
