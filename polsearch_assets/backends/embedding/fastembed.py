"""The production text embedder: all-MiniLM-L6-v2 as ONNX through fastembed (onnxruntime, no torch).

Same model and 384-d vectors as the embedded profile's sentence-transformers, so an index built by
either profile is searched by the other. Weights are never downloaded at run time: they come from a
local model directory (``POLSEARCH_EMBEDDING_MODEL_PATH``, e.g. made by ``polsearch export-embedder``)
or a pre-populated fastembed cache (``POLSEARCH_EMBEDDING_CACHE_DIR``), and a missing model fails at
once with what to do about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from polsearch_assets.backends.embedding.base import TextEmbedder, in_length_order
from polsearch_assets.backends.loading import shared_model
from polsearch_assets.config import setting

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


class EmbeddingModelMissing(RuntimeError):
    """The configured fastembed model is not on this machine."""


class FastEmbedEmbedder(TextEmbedder):
    """fastembed (ONNX Runtime) with all-MiniLM-L6-v2, from a local directory or a fastembed cache."""

    model_name: str = Field(default=MINILM, description="fastembed model name (its pooling and dimension).")
    model_path: str = setting("embedding_model_path")
    cache_dir: str = setting("embedding_cache_dir")
    batch_size: int = Field(default=64)
    threads: int = setting("cpu_threads")

    @property
    def model_identity(self) -> str:
        return f"fastembed:{self.model_name}"

    def _model(self) -> Future[Any]:
        return shared_model(_fastembed_model, self.model_name, self.model_path, self.cache_dir, self.threads)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        model = self._model().result()
        return in_length_order(texts, lambda ordered: list(model.embed(ordered, batch_size=self.batch_size)))


def _fastembed_model(model_name: str, model_path: str, cache_dir: str, threads: int) -> Any:
    from fastembed import TextEmbedding

    if model_path and not (Path(model_path) / "model.onnx").is_file():
        raise EmbeddingModelMissing(
            f"fastembed model directory {model_path} has no model.onnx (POLSEARCH_EMBEDDING_MODEL_PATH); "
            f"create it from the bundled weights with `polsearch export-embedder {model_path}`"
        )
    try:
        return TextEmbedding(
            model_name,
            cache_dir=cache_dir or None,
            threads=threads,
            specific_model_path=model_path or None,
            local_files_only=True,  # never reach for the model hub at run time
        )
    except Exception as error:
        where = (
            f"directory {model_path}"
            if model_path
            else f"fastembed cache {cache_dir or '(fastembed default)'}"
        )
        raise EmbeddingModelMissing(
            f"cannot load {model_name} from the {where}: {error}. Pre-populate the cache on a machine with "
            f"access (`TextEmbedding({model_name!r}, cache_dir=DIR)`) and set POLSEARCH_EMBEDDING_CACHE_DIR=DIR, "
            "or point POLSEARCH_EMBEDDING_MODEL_PATH at a directory made by `polsearch export-embedder DIR`"
        ) from error
