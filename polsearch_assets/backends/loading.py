"""Model loading shared by every backend: one background load per model and process; reading audio spans."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from types import ModuleType
from typing import Any, TypeVar

import numpy as np
import soundfile as sf

from polsearch_assets.backends.vad.silero import SAMPLE_RATE

T = TypeVar("T")


def read_span(wav: sf.SoundFile, start_ms: int, end_ms: int) -> np.ndarray:
    """float32 samples of [start_ms, end_ms) from an open 16 kHz WAV (seek + read: bounded memory)."""
    wav.seek(start_ms * SAMPLE_RATE // 1000)
    return wav.read((end_ms - start_ms) * SAMPLE_RATE // 1000, dtype="float32", always_2d=False)


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


_loads: dict[tuple[Any, ...], Future[Any]] = {}
_loads_lock = threading.Lock()
_loader_pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="polsearch-model-load")


def preload(module: str) -> Future[ModuleType]:
    """Import ``module`` on a loader thread now (once per process), so the step that needs it finds it imported."""
    return shared_model(importlib.import_module, module)


def shared_model(loader: Callable[..., T], *args: Any) -> Future[T]:
    """One load per process and settings, started at most once, on a background thread.

    Engines call this from ``load`` (their resource's ``setup_for_execution``) so that, in a run that executes
    several steps in one process, a model (imports and weights: seconds each) loads
    while earlier steps run; the step that needs it then waits on ``.result()``.
    """
    with _loads_lock:
        if (loader, *args) not in _loads:
            _loads[(loader, *args)] = _loader_pool.submit(loader, *args)
        return _loads[(loader, *args)]
