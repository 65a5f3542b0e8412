"""The speech models' one-time ONNX export, on a machine whose cache is empty (a fresh machine's first run)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from polsearch_assets.backends.diarization.campplus import campplus_model, fbank
from polsearch_assets.backends.vad.segmentation import pyannet_model
from polsearch_assets.core.audio.speech_frames import SAMPLE_RATE

pytestmark = pytest.mark.slow  # exports two real models with torch


def test_both_speech_models_export_at_once_into_an_empty_cache(tmp_path: Path) -> None:
    """A run loads the VAD's and the diarizer's models on two threads at its start; torch's exporter keeps
    process-wide state, so two exports at once failed ("GLOBALS.in_onnx_export must be False")."""
    frames = fbank(np.zeros(SAMPLE_RATE * 3 // 2, dtype=np.float32)).shape[0]
    loads = {
        "segmentation": lambda: pyannet_model(str(tmp_path), 1),
        "campplus": lambda: campplus_model(str(tmp_path), 1, frames),
    }
    barrier, errors = threading.Barrier(len(loads)), {}

    def load(name: str) -> None:
        barrier.wait()
        try:
            loads[name]()
        except Exception as error:  # reported below, with the model it came from
            errors[name] = error

    threads = [threading.Thread(target=load, args=(name,)) for name in loads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == {}
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == [
        "campplus",
        "pyannet",
    ]  # no temp files


def test_batches_run_two_at_a_time_give_the_same_bits_in_order() -> None:
    """A model runs ``threads`` batches at once, one thread each (less CPU than two threads on one batch on a
    2-core machine); each output is what one thread alone gives, in the batches' order, and only a few
    batches are taken ahead (a 4-hour hearing is not read into memory)."""
    frames = fbank(np.zeros(SAMPLE_RATE * 3 // 2, dtype=np.float32)).shape[0]
    two, one = campplus_model("", 2, frames), campplus_model("", 1, frames)  # the default cache
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((4, frames, 80)).astype(np.float32) for _ in range(9)]
    taken: list[int] = []

    def source():
        for i, batch in enumerate(batches):
            taken.append(i)
            yield batch

    outputs = []
    for i, output in enumerate(two.map(source())):
        assert len(taken) <= i + 1 + 2 * two.workers
        outputs.append(output)
    assert two.workers == 2 and len(outputs) == len(batches)
    assert all(np.array_equal(output, one(batch)) for output, batch in zip(outputs, batches, strict=True))
