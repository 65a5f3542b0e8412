"""The text embedders' shared batching: texts embedded by length, rows back in the given order."""

from __future__ import annotations

import numpy as np

from polsearch_assets.backends.embedding.base import in_length_order


def test_texts_are_embedded_shortest_first_and_rows_come_back_in_the_given_order() -> None:
    texts = ["a much longer sentence", "hi", "medium one", "", "hi"]
    seen: list[list[str]] = []

    def embed(ordered: list[str]) -> np.ndarray:
        seen.append(ordered)
        return np.array([[len(t), ord(t[0]) if t else 0] for t in ordered], dtype=np.float32)

    vectors = in_length_order(texts, embed)

    assert seen == [["", "hi", "hi", "medium one", "a much longer sentence"]]  # stable for equal lengths
    assert vectors.dtype == np.float32
    assert vectors.tolist() == [[len(t), ord(t[0]) if t else 0] for t in texts]
