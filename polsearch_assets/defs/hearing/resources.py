"""Resources for the audio stages: fetching/normalizing media, and VAD chunking."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from pydantic import Field

from polsearch_assets.backends.vad.silero import (
    silero_version,
    speech_probabilities,
    speech_regions,
)
from polsearch_assets.core.audio import media
from polsearch_assets.core.audio.chunking import chunk_speech
from polsearch_assets.core.contracts import VadChunks
from polsearch_assets.core.keys import SourceKind


@dataclass(frozen=True)
class NormalizedAudio:
    original: media.MediaInfo
    fetched: media.FetchedMedia | None  # None for local files


class MediaFetcher(dg.ConfigurableResource):
    """yt-dlp for URLs, ffmpeg for everything: any source -> 16 kHz mono 16-bit WAV."""

    min_duration_s: float = Field(
        default=1.0, description="Shorter recordings fail (POLSEARCH_MIN_DURATION_S)."
    )
    max_duration_s: float = Field(
        default=8 * 3600.0,
        description="Longer recordings fail, e.g. a livestream left running (POLSEARCH_MAX_DURATION_S).",
    )
    socket_timeout_s: float = Field(
        default=30.0, description="Network timeout per request (POLSEARCH_SOCKET_TIMEOUT_S)."
    )

    def check_duration(self, seconds: float) -> None:
        if seconds > self.max_duration_s:
            raise media.PermanentMediaError(
                f"recording is {media.human_duration(seconds)} long, over the maximum of "
                f"{media.human_duration(self.max_duration_s)} "
                "(POLSEARCH_MAX_DURATION_S)"
            )
        if seconds < self.min_duration_s:
            raise media.PermanentMediaError(
                f"recording is {media.human_duration(seconds)} long, under the minimum of "
                f"{media.human_duration(self.min_duration_s)} "
                "(POLSEARCH_MIN_DURATION_S)"
            )

    def fetch_normalized(
        self, kind: SourceKind, location: str, target: Path, logger: logging.Logger
    ) -> NormalizedAudio:
        """Write the normalized WAV of a source to ``target``; raises media.MediaError subclasses."""
        with tempfile.TemporaryDirectory(prefix="polsearch-fetch-") as workdir:
            fetched = None
            if kind is SourceKind.FILE:
                source = Path(location)
            else:
                fetched = media.fetch_url(
                    location,
                    Path(workdir),
                    socket_timeout_s=self.socket_timeout_s,
                    check_duration=self.check_duration,
                    logger=logger,
                )
                source = fetched.path
            original = media.probe(source)
            if original.duration_s:
                self.check_duration(original.duration_s)  # before decoding hours of audio
            media.normalize_to_wav(source, target)
        return NormalizedAudio(original=original, fetched=fetched)


class VadChunker(dg.ConfigurableResource):
    """silero-vad speech detection, then speech chunks of bounded length for the model stages."""

    threshold: float = Field(
        default=0.5, description="Speech probability threshold (POLSEARCH_VAD_THRESHOLD)."
    )
    min_speech_ms: int = Field(default=250, description="Shorter speech bursts are dropped.")
    min_silence_ms: int = Field(
        default=100, description="Shortest silence that separates regions and may be a cut."
    )
    speech_pad_ms: int = Field(default=100, description="Padding kept around each speech region.")
    min_chunk_s: float = Field(
        default=25.0, description="Chunks are at least this long where speech allows (POLSEARCH_MIN_CHUNK_S)."
    )
    max_chunk_s: float = Field(default=60.0, description="Chunks are never longer (POLSEARCH_MAX_CHUNK_S).")

    @property
    def model_identity(self) -> str:
        return f"silero-vad-{silero_version()}-sequence-onnx"

    def detect(self, wav_path: Path) -> VadChunks:
        probabilities, total_samples = speech_probabilities(wav_path)
        duration_ms = total_samples * 1000 // 16_000
        regions = speech_regions(
            probabilities,
            total_samples,
            threshold=self.threshold,
            min_speech_ms=self.min_speech_ms,
            min_silence_ms=self.min_silence_ms,
            speech_pad_ms=self.speech_pad_ms,
        )
        chunks = chunk_speech(
            regions,
            duration_ms,
            min_chunk_ms=round(self.min_chunk_s * 1000),
            max_chunk_ms=round(self.max_chunk_s * 1000),
            min_silence_ms=self.min_silence_ms,
        )
        return VadChunks(duration_ms=duration_ms, model=self.model_identity, chunks=tuple(chunks))
