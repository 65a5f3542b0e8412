"""The speech detection stage's interface: a 16 kHz WAV -> speech regions, cut into chunks for the model stages."""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

from pydantic import Field

from polsearch_assets.backends.engine import Engine
from polsearch_assets.config import setting
from polsearch_assets.core.audio.chunking import chunk_speech
from polsearch_assets.core.audio.speech_frames import FrameScores
from polsearch_assets.core.contracts import SpeechRegion, VadChunks


class SpeechDetector(Engine):
    """Speech regions of a whole hearing, then chunks of bounded length cut at silences."""

    threshold: float = setting("vad_threshold")
    min_speech_ms: int = Field(default=250, description="Shorter speech bursts are dropped.")
    min_silence_ms: int = Field(
        default=100, description="Shortest silence that separates regions and may be a cut."
    )
    speech_pad_ms: int = Field(default=100, description="Padding kept around each speech region.")
    min_chunk_s: float = setting("min_chunk_s")
    max_chunk_s: float = setting("max_chunk_s")
    cpu_threads: int = setting("cpu_threads")

    @property
    def frames_identity(self) -> str:
        """The identity of the segmentation scores ``regions`` returns; empty when it returns none."""
        return ""

    @abstractmethod
    def regions(self, wav_path: Path) -> tuple[list[SpeechRegion], int, FrameScores | None]:
        """Speech regions (padded), the audio's length in ms, and segmentation scores where the engine has them."""

    def detect(self, wav_path: Path) -> VadChunks:
        return self.detect_with_frames(wav_path)[0]

    def detect_with_frames(self, wav_path: Path) -> tuple[VadChunks, FrameScores | None]:
        """The chunks, and the segmentation scores they were drawn from (None where the engine has none)."""
        regions, duration_ms, scores = self.regions(wav_path)
        chunks = chunk_speech(
            regions,
            duration_ms,
            min_chunk_ms=round(self.min_chunk_s * 1000),
            max_chunk_ms=round(self.max_chunk_s * 1000),
            min_silence_ms=self.min_silence_ms,
        )
        return VadChunks(duration_ms=duration_ms, model=self.model_identity, chunks=tuple(chunks)), scores
