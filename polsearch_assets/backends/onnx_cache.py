"""Run the torch models through ONNX Runtime: on this CPU it is 5-8x faster than torch eager for both
PyanNet and CAM++ (measured: CAM++ 0.077 vs 0.50 CPU-s per 1.5 s window; PyanNet 0.07-0.11 vs
0.57 CPU-s per 10 s window), with outputs equal to 1e-5.

The ONNX file is exported once from the torch module (needs the ``onnx`` package) into a cache
directory (``POLSEARCH_ONNX_CACHE_DIR``), keyed by the weights file's hash; later runs only load it.
"""

from __future__ import annotations

import hashlib
import os
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from polsearch_assets.config import user_cache_dir
from polsearch_assets.core.scratch import temp_beside

OPSET = 17
# torch's ONNX exporter keeps process-wide state: two exports at once (a run loads the VAD's and the
# diarizer's models on two threads) fail with "GLOBALS.in_onnx_export must be False".
_EXPORTING = threading.Lock()


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/polsearch/onnx``, or ``~/.cache/polsearch/onnx``: shared by every run and test."""
    return user_cache_dir("onnx")


def weights_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def export_once(
    name: str, weights: Path, build: Callable[[], Any], example_shape: tuple[int, ...], cache_dir: Path
) -> Path:
    """ONNX file for ``build()`` (a torch module factory); exported only if not cached yet (into
    ``cache_dir``, or the default cache when it is empty)."""
    target = _cache_path(cache_dir, f"{name}-{weights_digest(weights)}.onnx")
    return _made_once(target, Path.exists, lambda: _export(build(), example_shape, target))


def export_dir_once(name: str, weights: Path, export: Callable[[Path], Path], cache_dir: Path) -> Path:
    """A directory made by ``export(directory)`` (a model with its tokenizer files), only if not cached yet.

    ``export`` writes the whole directory and renames it into place (``onnx_export``), so a directory that
    exists is complete; it runs under the same lock as ``export_once``, since both use torch's exporter.
    """
    target = _cache_path(cache_dir, f"{name}-{weights_digest(weights)}")
    return _made_once(target, Path.is_dir, lambda: export(target))


def _cache_path(cache_dir: Path, name: str) -> Path:
    cache_dir = cache_dir if str(cache_dir) not in ("", ".") else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    return cache_dir / name


def _made_once(target: Path, made: Callable[[Path], bool], make: Callable[[], object]) -> Path:
    """``target``, made by ``make()`` unless ``made(target)`` already; one export at a time."""
    if made(target):
        return target
    with _EXPORTING:
        if not made(target):  # another thread may have exported it while this one waited
            make()
    return target


def _export(model: Any, example_shape: tuple[int, ...], target: Path) -> None:
    import torch

    temp = temp_beside(target)  # named by pid: a killed exporter's file is removed by the next one
    try:
        with warnings.catch_warnings():
            # the tracer's notes on shape-dependent Python branches: fixed shapes here
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                torch.zeros(example_shape),
                str(temp),
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {0: "batch"}},  # batch only: time length stays fixed by design
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(temp, target)  # atomic: concurrent workers never read a half-written file
    finally:
        temp.unlink(missing_ok=True)  # a failed export leaves nothing behind


class OrtModel:
    """One ONNX Runtime session that runs ``threads`` batches at once, each on one thread (``map``).

    On this 2-core CPU, one batch on two intra-op threads costs 20-30 % more CPU than on one and finishes
    barely sooner (the threads wait on each other); two batches at once, one thread each, keep both cores on
    the model with less CPU. A batch's output does not depend on the thread count (the same bits; BENCHMARKS.md,
    issue 25 item 5).
    """

    def __init__(self, path: Path, threads: int = 2) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.workers = max(1, threads)
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"x": np.ascontiguousarray(x, dtype=np.float32)})[0]

    def map(self, batches: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Each batch's output, in order; ``workers`` batches run at once (ONNX Runtime releases the GIL), and
        at most twice as many are taken from ``batches`` ahead of the one returned, so memory stays bounded."""
        if self.workers == 1:
            yield from map(self, batches)
            return
        with ThreadPoolExecutor(self.workers, thread_name_prefix="polsearch-onnx") as pool:
            running: deque[Future[np.ndarray]] = deque()
            for batch in batches:
                running.append(pool.submit(self, batch))
                if len(running) >= 2 * self.workers:
                    yield running.popleft().result()
            while running:
                yield running.popleft().result()
