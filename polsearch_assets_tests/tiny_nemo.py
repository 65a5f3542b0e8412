"""Tiny, randomly initialised NeMo models built from configs written here, saved as real ``.nemo`` files.

No NeMo weights can be downloaded on these machines. These models have the production models'
architectures at toy sizes, so the backends' real loading and inference paths run on CPU in
seconds; their outputs are meaningless text, but their shapes and times follow the contracts.
"""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import SAMPLE_DIR

TDT_DURATIONS = [0, 1, 2, 3, 4]
# Names the tiny models have in the test model cache (laid out as `huggingface-cli download` leaves it).
TINY_TDT = "polsearch-tests/tiny-parakeet-tdt"
TINY_SORTFORMER = "polsearch-tests/tiny-sortformer"


def train_tokenizer(out_dir: Path, vocab_size: int = 64) -> Path:
    """A SentencePiece BPE tokenizer trained with NeMo's own tooling on the sample hearing's lines."""
    from nemo.collections.common.tokenizers.sentencepiece_tokenizer import create_spt_model

    out_dir.mkdir(parents=True, exist_ok=True)
    text = out_dir / "text.txt"
    utterances = json.loads((SAMPLE_DIR / "sample_hearing.json").read_text())["utterances"]
    text.write_text("\n".join(u["text"].lower() for u in utterances))
    create_spt_model(
        str(text),
        vocab_size=vocab_size,
        sample_size=-1,
        do_lower_case=True,
        tokenizer_type="bpe",
        output_dir=str(out_dir),
    )
    return out_dir


def tiny_tdt_config(tokenizer_dir: Path) -> dict:
    """A FastConformer-TDT (Parakeet's architecture): 2 layers of 32, subsampling 8, TDT durations 0-4."""
    hidden = 32
    return {
        "sample_rate": 16000,
        "model_defaults": {"enc_hidden": hidden, "pred_hidden": hidden, "joint_hidden": hidden},
        "tokenizer": {"dir": str(tokenizer_dir), "type": "bpe"},
        "preprocessor": {
            "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
            "sample_rate": 16000,
            "normalize": "per_feature",
            "window_size": 0.025,
            "window_stride": 0.01,
            "window": "hann",
            "features": 80,
            "n_fft": 512,
            "dither": 0.0,
            "pad_to": 0,
        },
        "encoder": {
            "_target_": "nemo.collections.asr.modules.ConformerEncoder",
            "feat_in": 80,
            "feat_out": -1,
            "n_layers": 2,
            "d_model": hidden,
            "subsampling": "dw_striding",
            "subsampling_factor": 8,
            "subsampling_conv_channels": hidden,
            "ff_expansion_factor": 2,
            "self_attention_model": "rel_pos",
            "n_heads": 2,
            "att_context_size": [-1, -1],
            "xscaling": True,
            "untie_biases": True,
            "pos_emb_max_len": 5000,
            "conv_kernel_size": 9,
            "conv_norm_type": "batch_norm",
            "dropout": 0.0,
            "dropout_emb": 0.0,
            "dropout_att": 0.0,
        },
        "decoder": {
            "_target_": "nemo.collections.asr.modules.RNNTDecoder",
            "normalization_mode": None,
            "random_state_sampling": False,
            "blank_as_pad": True,
            "prednet": {"pred_hidden": hidden, "pred_rnn_layers": 1, "t_max": None, "dropout": 0.0},
        },
        "joint": {
            "_target_": "nemo.collections.asr.modules.RNNTJoint",
            "log_softmax": None,
            "preserve_memory": False,
            "fuse_loss_wer": False,
            "jointnet": {"joint_hidden": hidden, "activation": "relu", "dropout": 0.0},
            "num_extra_outputs": len(TDT_DURATIONS),
        },
        "decoding": {
            "strategy": "greedy",
            "model_type": "tdt",
            "durations": TDT_DURATIONS,
            "greedy": {"max_symbols": 10},
        },
        "loss": {
            "loss_name": "tdt",
            "tdt_kwargs": {
                "fastemit_lambda": 0.0,
                "clamp": -1.0,
                "durations": TDT_DURATIONS,
                "sigma": 0.05,
                "omega": 0.1,
            },
        },
    }


def build_tiny_tdt(out: Path, work_dir: Path, seed: int = 0) -> Path:
    """Build, randomly initialise (seeded) and ``save_to`` a tiny TDT model at ``out``."""
    import torch
    from nemo.collections.asr.models import EncDecRNNTBPEModel
    from omegaconf import OmegaConf

    torch.manual_seed(seed)
    model = EncDecRNNTBPEModel(cfg=OmegaConf.create(tiny_tdt_config(train_tokenizer(work_dir / "tokenizer"))))
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save_to(str(out))
    return out


def tiny_sortformer_config() -> dict:
    """A streaming Sortformer (4 speakers): FastConformer encoder, 1 transformer layer, speaker cache."""
    hidden = 32
    return {
        "sample_rate": 16000,
        "max_num_of_spks": 4,
        "streaming_mode": True,
        "model_defaults": {"fc_d_model": hidden, "tf_d_model": hidden},
        "preprocessor": {
            "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
            "sample_rate": 16000,
            "normalize": "NA",
            "window_size": 0.025,
            "window_stride": 0.01,
            "window": "hann",
            "features": 80,
            "n_fft": 512,
            "frame_splicing": 1,
            "dither": 0.0,
            "pad_to": 0,
        },
        "sortformer_modules": {
            "_target_": "nemo.collections.asr.modules.sortformer_modules.SortformerModules",
            "num_spks": 4,
            "dropout_rate": 0.0,
            "fc_d_model": hidden,
            "tf_d_model": hidden,
            "subsampling_factor": 8,
            "spkcache_len": 188,
            "fifo_len": 188,
            "chunk_len": 188,
            "spkcache_update_period": 188,
            "chunk_left_context": 1,
            "chunk_right_context": 1,
        },
        "encoder": tiny_tdt_config(Path("unused"))["encoder"],
        "transformer_encoder": {
            "_target_": "nemo.collections.asr.modules.transformer.transformer_encoders.TransformerEncoder",
            "num_layers": 1,
            "hidden_size": hidden,
            "inner_size": 2 * hidden,
            "num_attention_heads": 2,
            "attn_score_dropout": 0.0,
            "attn_layer_dropout": 0.0,
            "ffn_dropout": 0.0,
            "hidden_act": "relu",
            "pre_ln": False,
            "pre_ln_final_layer_norm": True,
        },
        "loss": {
            "_target_": "nemo.collections.asr.losses.bce_loss.BCELoss",
            "weight": None,
            "reduction": "mean",
        },
    }


def build_tiny_sortformer(out: Path, seed: int = 0) -> Path:
    """Build, randomly initialise (seeded) and ``save_to`` a tiny streaming Sortformer at ``out``."""
    import torch
    from nemo.collections.asr.models import SortformerEncLabelModel
    from omegaconf import OmegaConf

    torch.manual_seed(seed)
    model = SortformerEncLabelModel(cfg=OmegaConf.create(tiny_sortformer_config()))
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save_to(str(out))
    return out


def build_model_cache(cache: Path, work_dir: Path) -> Path:
    """Both tiny models in one cache directory, found by name like the real ones in MODEL_CACHE_DIR."""
    build_tiny_tdt(cache / TINY_TDT / "tiny-parakeet-tdt.nemo", work_dir)
    build_tiny_sortformer(cache / TINY_SORTFORMER / "tiny-sortformer.nemo")
    return cache
