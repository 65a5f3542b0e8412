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
