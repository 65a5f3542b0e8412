"""NeMo streaming Sortformer (``polsearch[gpu]``) in overlapping windows, linked into hearing speakers by voice."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import soundfile as sf
from pydantic import Field, model_validator

from polsearch_assets.backends.diarization.base import Diarizer
from polsearch_assets.backends.diarization.resemblyzer import RESEMBLYZER_VOICES, voice_encoder
from polsearch_assets.backends.loading import package_version, read_span, shared_model
from polsearch_assets.backends.nemo import (
    import_nemo_asr,
    model_label,
    resolve_device,
    resolve_nemo_model,
    restore_nemo_model,
)
from polsearch_assets.backends.vad.silero import SAMPLE_RATE
from polsearch_assets.config import NemoDevice, setting
from polsearch_assets.core.audio.speech_frames import FrameScores
from polsearch_assets.core.contracts import Diarization, SpeechRegion, Turn
from polsearch_assets.core.speakers.linking import Window
from polsearch_assets.core.speakers.windowed import diarize_in_windows

# CC-BY-4.0 and streaming. Not diar_sortformer_4spk-v1: CC-BY-NC, offline only, ~12 min per pass.


class SortformerDiarizer(Diarizer):
    """Streaming Sortformer (4 speakers per pass) in overlapping windows, linked into global speakers by voice.

    Each window is diarized by the model with its arrival-order speaker cache; the speakers of all
    windows are then linked by speaker embeddings (the embedded profile's voice encoder) under a
    cannot-link rule (``speaker_linking``), so one voice keeps one ``SPEAKER_N`` across hours and a
    hearing may have more speakers than the model tracks at once.
    """

    threshold_field: ClassVar[str] = "link_threshold"
    model: str = setting("nemo_diar_model")
    model_cache_dir: str = setting("model_cache_dir")
    device: NemoDevice = setting("nemo_device")
    window_s: float = setting("diar_window_s")
    overlap_s: float = setting("diar_overlap_s")
    link_threshold: float = Field(
        default=0.3,
        description="Cosine distance up to which window speakers are one voice (POLSEARCH_SPEAKER_THRESHOLD).",
    )
    max_speakers: int = setting("max_speakers")
    # Streaming settings, in 80 ms frames: the model card's highest-latency (most accurate) preset.
    chunk_len: int = Field(default=340)
    chunk_right_context: int = Field(default=40)
    chunk_left_context: int = Field(default=1)
    fifo_len: int = Field(default=40)
    spkcache_update_period: int = Field(default=300)
    spkcache_len: int = Field(default=188)
    max_link_speech_s: float = Field(
        default=30.0, description="Speech per window speaker used for its voice embedding."
    )

    @model_validator(mode="after")
    def _windows_are_sound(self) -> SortformerDiarizer:
        # Refused when the code location loads, not hours into a run.
        if self.window_s < 0 or (self.window_s > 0 and not 0 <= self.overlap_s < self.window_s):
            raise ValueError(
                f"diarization windows need window_s 0 (one pass) or 0 <= overlap_s < window_s; got window_s="
                f"{self.window_s:g} (POLSEARCH_DIAR_WINDOW_S), overlap_s={self.overlap_s:g} (POLSEARCH_DIAR_OVERLAP_S)"
            )
        return self

    @property
    def model_identity(self) -> str:
        return (
            f"nemo-{package_version('nemo_toolkit')}:{model_label(self.model)}:w{self.window_s:g}/{self.overlap_s:g}s"
            f":c{self.chunk_len}+{self.chunk_right_context}f{self.fifo_len}u{self.spkcache_update_period}"
            f"s{self.spkcache_len}:link-resemblyzer-cos{self.link_threshold}"
        )

    def load(self) -> None:
        self._model()
        shared_model(voice_encoder)

    def _model(self) -> Future[Any]:
        path = resolve_nemo_model(self.model, self.model_cache_dir)
        streaming = (
            self.chunk_len,
            self.chunk_right_context,
            self.chunk_left_context,
            self.fifo_len,
            self.spkcache_update_period,
            self.spkcache_len,
        )
        return shared_model(_nemo_diar_model, str(path), resolve_device(self.device), streaming)

    @property
    def gives_frame_probabilities(self) -> bool:
        return True

    def diarize(
        self,
        wav_path: Path,
        regions: Sequence[SpeechRegion],
        log: logging.Logger,
        frames: FrameScores | None = None,  # segmentation scores: this diarizer takes none
    ) -> Diarization:
        if not regions:
            return Diarization(speakers=(), turns=(), voice_encoder=RESEMBLYZER_VOICES)
        model = self._model().result()
        encoder = shared_model(voice_encoder).result()
        with sf.SoundFile(wav_path) as wav:

            def window(w: Window) -> tuple[list[Turn], np.ndarray]:
                return _diarize_window(model, read_span(wav, w.start_ms, w.end_ms), w.start_ms)

            def embed(turns: Sequence[Turn]) -> np.ndarray:
                return encoder.embed_utterance(
                    np.concatenate([read_span(wav, t.start_ms, t.end_ms) for t in turns])
                )

            return diarize_in_windows(
                wav.frames * 1000 // wav.samplerate,
                window_ms=round(self.window_s * 1000),
                overlap_ms=round(self.overlap_s * 1000),
                slots=int(model.cfg.max_num_of_spks),
                frame_ms=int(model.cfg.encoder.subsampling_factor) * 10,  # NeMo's unit: 10 ms feature frames
                diarize_window=window,
                embed=embed,
                link_threshold=self.link_threshold,
                max_speakers=self.max_speakers,
                max_voice_ms=round(self.max_link_speech_s * 1000),
                voice_encoder=RESEMBLYZER_VOICES,
                log=log,
            )


def _diarize_window(model: Any, audio: np.ndarray, offset_ms: int) -> tuple[list[Turn], np.ndarray]:
    """One window's turns on the global timeline, labelled by the model's local speakers, and its
    per-frame speaker probabilities ``[frames, speakers]`` (frame 0 at the window's start)."""
    with tempfile.TemporaryDirectory(prefix="polsearch-diar-") as tmp:
        path = Path(tmp) / "window.wav"
        sf.write(path, audio, SAMPLE_RATE, subtype="PCM_16")
        lines, tensors = model.diarize(
            audio=[str(path)], batch_size=1, include_tensor_outputs=True, verbose=False
        )
    turns = []
    for line in lines[0]:
        start_s, end_s, label = str(line).split()
        start, end = offset_ms + round(float(start_s) * 1000), offset_ms + round(float(end_s) * 1000)
        if end > start:
            turns.append(Turn(label, start, end))
    return turns, tensors[0].squeeze(0).float().cpu().numpy()


def _nemo_diar_model(path: str, device: str, streaming: tuple[int, ...]) -> Any:
    import_nemo_asr()
    from nemo.collections.asr.parts.mixins.diarization import SpkDiarizationMixin

    model = restore_nemo_model(Path(path), SpkDiarizationMixin, "a diarization", device)
    modules = getattr(model, "sortformer_modules", None)
    if modules is not None and getattr(model, "streaming_mode", False):
        (
            modules.chunk_len,
            modules.chunk_right_context,
            modules.chunk_left_context,
            modules.fifo_len,
            modules.spkcache_update_period,
            modules.spkcache_len,
        ) = streaming
        modules._check_streaming_parameters()
    return model
