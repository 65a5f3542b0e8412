"""The text embedding stage's interface: texts -> L2-normalised vectors in one 384-d space for every profile."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import numpy as np

from polsearch_assets.backends.engine import Engine


class TextEmbedder(Engine):
    """Texts -> L2-normalised vectors; every profile uses all-MiniLM-L6-v2 (384-d) so indexes stay comparable."""

    @property
    @abstractmethod
    def dimension(self) -> int: ...

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), dimension), rows L2-normalised."""
