"""The text embedding stage's interface: texts -> L2-normalised vectors in one 384-d space for every profile."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np

from polsearch_assets.backends.engine import Engine

DIMENSION = 384  # all-MiniLM-L6-v2's


class TextEmbedder(Engine):
    """Texts -> L2-normalised vectors; every profile uses all-MiniLM-L6-v2 (384-d) so indexes stay comparable.

    An engine gives ``_model`` (its loaded model, shared per process) and ``_embed`` (non-empty texts ->
    vectors); ``embed`` checks the width the index needs.
    """

    @property
    def dimension(self) -> int:
        return DIMENSION

    def load(self) -> None:
        self._model()

    @abstractmethod
    def _model(self) -> Future[Any]: ...

    @abstractmethod
    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), width) vectors of at least one text, rows L2-normalised."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), dimension), rows L2-normalised."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.asarray(self._embed(texts), dtype=np.float32)
        if vectors.shape[1] != self.dimension:
            raise ValueError(
                f"{self.model_identity} gives {vectors.shape[1]}-d vectors; the index needs {self.dimension}-d"
            )
        return vectors


def in_length_order(texts: Sequence[str], embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """``embed`` the texts sorted by length (batches of similar length pad little: 1.8x the throughput of the
    given order, BENCHMARKS.md), rows put back in the given order."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    sorted_vectors = np.asarray(embed([texts[i] for i in order]), dtype=np.float32)
    vectors = np.empty_like(sorted_vectors)
    vectors[order] = sorted_vectors
    return vectors
