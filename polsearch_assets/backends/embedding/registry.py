"""The text embedders by the name ``POLSEARCH_EMBEDDING_BACKEND`` gives them: a new engine is one line here."""

from __future__ import annotations

from polsearch_assets.backends.embedding.base import TextEmbedder
from polsearch_assets.backends.embedding.fastembed import FastEmbedEmbedder
from polsearch_assets.backends.embedding.minilm_onnx import OnnxMiniLmEmbedder
from polsearch_assets.backends.embedding.sentence_transformers import SentenceTransformerEmbedder

EMBEDDERS: dict[str, type[TextEmbedder]] = {
    "onnx": OnnxMiniLmEmbedder,
    "sentence-transformers": SentenceTransformerEmbedder,
    "fastembed": FastEmbedEmbedder,
}
