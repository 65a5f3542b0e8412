"""all-MiniLM-L6-v2 on ONNX Runtime, exported once from the bundled weights: the embedded profile's text embedder.

The same model, tokenizer (truncated at the model's 256 tokens), mean pooling and L2 normalisation as the
sentence-transformers engine, so its vectors are that engine's to float rounding (BENCHMARKS.md, issue 25
item 5). A run needs only ``onnxruntime`` and ``tokenizers``: importing sentence-transformers (torch,
transformers, scikit-learn, datasets) cost more CPU per hearing than embedding its segments. The export
(``polsearch export-embedder``'s, with torch) is made once per machine into the ONNX cache
(``POLSEARCH_ONNX_CACHE_DIR``), keyed by the weights' hash, like the speech models'.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from polsearch_assets.backends.embedding.base import TextEmbedder, in_length_order
from polsearch_assets.backends.embedding.sentence_transformers import (
    SentenceTransformerEmbedder,
    bundled_minilm_model,
)
from polsearch_assets.backends.loading import shared_model
from polsearch_assets.backends.onnx_cache import export_dir_once
from polsearch_assets.config import setting

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length (sentence_bert_config.json); its tokenizer.json says 128


def weights_file(source: Path) -> Path:
    """The file whose hash names the export: the model's weights."""
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (source / name).is_file():
            return source / name
    raise FileNotFoundError(f"{source} has no model.safetensors or pytorch_model.bin")


class MiniLmSession:
    """Tokenizer + ONNX Runtime session of one exported model directory (``onnx_export``'s layout)."""

    def __init__(self, model_dir: Path, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_type_id=0, pad_token="[PAD]")  # to the batch's longest
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 384) mean-pooled, L2-normalised vectors of one batch."""
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        types = np.array([e.type_ids for e in encodings], dtype=np.int64)
        (hidden,) = self.session.run(
            ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


class OnnxMiniLmEmbedder(TextEmbedder):
    """all-MiniLM-L6-v2 (the bundled weights, or a sentence-transformers directory) exported once to ONNX and
    run on ONNX Runtime; no torch in a run."""

    model_path: str = setting("embedding_model_path")
    onnx_cache_dir: str = setting("onnx_cache_dir")
    threads: int = setting("cpu_threads")
    batch_size: int = Field(default=64)

    @property
    def model_identity(self) -> str:
        # The sentence-transformers engine's: the same model, tokenizer, pooling and normalisation, vectors equal
        # to float rounding (as torch's own differ between CPUs), so switching engines re-embeds no hearing.
        return SentenceTransformerEmbedder.from_settings(model_path=self.model_path).model_identity

    def _model(self) -> Future[Any]:
        return shared_model(_minilm_session, self.model_path, self.onnx_cache_dir, self.threads)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        session = self._model().result()
        return in_length_order(
            texts,
            lambda ordered: np.concatenate(
                [
                    session.embed(ordered[first : first + self.batch_size])
                    for first in range(0, len(ordered), self.batch_size)
                ]
            ),
        )


def _minilm_session(model_path: str, cache_dir: str, threads: int) -> MiniLmSession:
    from polsearch_assets.backends.embedding.onnx_export import export_embedder_onnx

    source = Path(model_path) if model_path else bundled_minilm_model()
    directory = export_dir_once(
        "minilm", weights_file(source), lambda out: export_embedder_onnx(out, source), Path(cache_dir)
    )
    return MiniLmSession(directory, threads)
