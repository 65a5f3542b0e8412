"""Finding and checking NeMo models offline, and running batches that back off on GPU out-of-memory.

No NeMo model is ever downloaded at run time: a model is a local ``.nemo`` file, or a name
(``nvidia/parakeet-tdt-0.6b-v2``) looked up in the model cache directory (``MODEL_CACHE_DIR``), laid
out as Hugging Face's ``huggingface-cli download NAME --local-dir $MODEL_CACHE_DIR/NAME`` leaves it
(``$MODEL_CACHE_DIR/nvidia/parakeet-tdt-0.6b-v2/parakeet-tdt-0.6b-v2.nemo``) or as a bare
``$MODEL_CACHE_DIR/nvidia/parakeet-tdt-0.6b-v2.nemo``. The model's class is read from the
archive's config before anything is built, so a diarization model given as the ASR model (or the
reverse) fails with a clear message instead of a stack trace from deep inside NeMo.
"""

from __future__ import annotations

import importlib
import tarfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")
R = TypeVar("R")


class ModelNotFound(FileNotFoundError):
    """The configured model is not on this machine."""


class WrongModelKind(ValueError):
    """The model exists but is not the kind the stage needs."""


def model_label(model: str) -> str:
    """How a model appears in a code version: a .nemo file by its stem, a name as it is."""
    return Path(model).stem if model.endswith(".nemo") else model


def resolve_nemo_model(model: str, cache_dir: str) -> Path:
    """The ``.nemo`` file for ``model``: a path to one, or a name looked up under ``cache_dir``."""
    if model.endswith(".nemo") or Path(model).is_absolute():
        path = Path(model).expanduser()
        if not path.is_file():
            raise ModelNotFound(f"NeMo model file {path} does not exist")
        return path
    if not cache_dir:
        raise ModelNotFound(
            f"NeMo model {model!r} is a name, but no model cache directory is set: set MODEL_CACHE_DIR and "
            f"pre-populate it with `huggingface-cli download {model} --local-dir $MODEL_CACHE_DIR/{model}`, "
            "or give the path of a .nemo file"
        )
    root = Path(cache_dir).expanduser()
    folder = root / model
    candidates = sorted(folder.glob("*.nemo")) if folder.is_dir() else []
    if (root / f"{model}.nemo").is_file():
        candidates.append(root / f"{model}.nemo")
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        raise ModelNotFound(
            f"{folder} holds several .nemo files ({', '.join(p.name for p in candidates)}); name one"
        )
    raise ModelNotFound(
        f"NeMo model {model!r} is not in the model cache: looked for {folder}/*.nemo and {root / model}.nemo. "
        f"Pre-populate it on a machine with access: `huggingface-cli download {model} --local-dir {folder}` "
        "(then copy the directory to the cluster's model volume)"
    )


def nemo_model_class(path: Path) -> type:
    """The model class named in a ``.nemo`` archive's config (``target``), without building the model."""
    try:
        with tarfile.open(path) as archive:
            member = next((m for m in archive.getmembers() if Path(m.name).name == "model_config.yaml"), None)
            if member is None:
                raise WrongModelKind(f"{path} is not a NeMo model archive (no model_config.yaml)")
            config = yaml.safe_load(archive.extractfile(member).read())
    except tarfile.TarError as error:
        raise WrongModelKind(f"{path} is not a NeMo model archive: {error}") from error
    target = (config or {}).get("target") or ""
    module, _, name = target.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise WrongModelKind(f"{path}: model class {target!r} cannot be imported ({error})") from error


def check_model_kind(path: Path, base: type, kind: str) -> type:
    """The archive's model class if it is a ``base``; else WrongModelKind naming what it is."""
    cls = nemo_model_class(path)
    if not issubclass(cls, base):
        raise WrongModelKind(f"{path} is a {cls.__name__}, not {kind} model ({base.__name__})")
    return cls


def is_out_of_memory(error: BaseException) -> bool:
    import torch

    return isinstance(error, torch.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and "out of memory" in str(error).lower()
    )


def run_with_backoff(
    items: Sequence[T],
    batch_size: int,
    run: Callable[[Sequence[T]], list[R]],
    on_backoff: Callable[[int, int], None] = lambda old, new: None,
) -> list[R]:
    """``run`` over ``items`` in batches; a batch that runs out of GPU memory is retried at half the
    batch size, down to 1, before the error is raised. The smaller size then holds for the rest."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    results: list[R] = []
    position = 0
    while position < len(items):
        batch = items[position : position + batch_size]
        try:
            results.extend(run(batch))
        except Exception as error:
            if not is_out_of_memory(error) or batch_size == 1:
                raise
            _free_gpu_memory()
            on_backoff(batch_size, batch_size // 2)
            batch_size //= 2
            continue
        position += len(batch)
    return results


def _free_gpu_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


# The transcript and diarization models load in parallel threads when a run starts (shared_model), but
# NeMo is not safe to enter from two threads at once: its ASR package has import cycles (two first
# imports at the same time deadlock or see it half-initialised), and ``restore_from`` unpacks the
# archive into a temporary directory and ``os.chdir``s into it, process-wide, so a second restore
# saves a cwd the first one deletes (FileNotFoundError on the deleted /tmp/tmpXXXX). Both were found
# by running the whole graph on the production profile; both run under this one lock.
_NEMO_LOCK = threading.Lock()


def import_nemo_asr() -> None:
    """Import NeMo's ASR collection once, under the NeMo lock, and quiet its logging (NeMo logs every
    config it builds at INFO; its warnings are kept)."""
    with _NEMO_LOCK:
        import nemo.collections.asr  # noqa: F401
        from nemo.utils import logging as nemo_logging

    nemo_logging.setLevel(nemo_logging.WARNING)


def restore_nemo_model(path: Path, base: type, kind: str, device: str) -> Any:
    """The model in the ``.nemo`` archive at ``path``, checked to be a ``base`` (``kind`` names it in the
    error), on ``device``, in eval mode; restored under the NeMo lock."""
    model_class = check_model_kind(path, base, kind)
    with _NEMO_LOCK:
        model = model_class.restore_from(str(path), map_location=device)
    model.eval()
    return model
