"""Resources for the audio stages: fetching/normalizing media, and speech detection into chunks."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from polsearch_assets.backends.loading import shared_model
from polsearch_assets.backends.vad.segmentation import SpeechSegmenter, pyannet_model, segmentation_identity
from polsearch_assets.backends.vad.silero import SAMPLE_RATE, silero_version, speech_probabilities
from polsearch_assets.backends.vad.silero import speech_regions as silero_regions
from polsearch_assets.config import FromSettings, VadBackend, setting
from polsearch_assets.core.audio import media
from polsearch_assets.core.audio.chunking import chunk_speech
from polsearch_assets.core.audio.speech_frames import FRAME_OFFSET_MS, FrameScores
from polsearch_assets.core.audio.speech_regions import RegionSettings, speech_regions
from polsearch_assets.core.contracts import SpeechRegion, VadChunks
from polsearch_assets.core.keys import SourceKind
from polsearch_assets.core.scratch import scratch_dir


@dataclass(frozen=True)
class NormalizedAudio:
    original: media.MediaInfo
    fetched: media.FetchedMedia | None  # None for local files


class MediaFetcher(FromSettings, dg.ConfigurableResource):
    """yt-dlp for URLs, ffmpeg for everything: any source -> 16 kHz mono 16-bit WAV."""

    min_duration_s: float = setting("min_duration_s")
    max_duration_s: float = setting("max_duration_s")
    socket_timeout_s: float = setting("socket_timeout_s")
    max_download_mb: float | None = setting("max_download_mb")

    @property
    def max_download_bytes(self) -> int:
        return int(self.max_download_mb * 1e6 if self.max_download_mb else self.max_duration_s * 500_000)

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
        with scratch_dir("polsearch-fetch-") as workdir:
            fetched = None
            if kind is SourceKind.FILE:
                source = Path(location)
            else:
                fetched = media.fetch_url(
                    location,
                    workdir,
                    socket_timeout_s=self.socket_timeout_s,
                    check_duration=self.check_duration,
                    max_bytes=self.max_download_bytes,
                    logger=logger,
                )
                source = fetched.path
            original = media.probe(source)
            if original.duration_s:
                self.check_duration(original.duration_s)  # before decoding hours of audio
            media.normalize_to_wav(source, target)
        return NormalizedAudio(original=original, fetched=fetched)


class VadChunker(FromSettings, dg.ConfigurableResource):
    """Speech detection, then speech chunks of bounded length for the model stages.

    ``segmentation`` (default): pyannote segmentation-3.0, which normalises the waveform's level itself
    and so keeps quiet, far-field speech that silero-vad at 0.5 loses (BENCHMARKS.md, real speech at
    0/-20/-30 dB). ``silero``: silero-vad, streamed, for machines without the segmentation model.
    """

    backend: VadBackend = setting("vad_backend")
    threshold: float = setting("vad_threshold")
    min_speech_ms: int = Field(default=250, description="Shorter speech bursts are dropped.")
    min_silence_ms: int = Field(
        default=100, description="Shortest silence that separates regions and may be a cut."
    )
    speech_pad_ms: int = Field(default=100, description="Padding kept around each speech region.")
    min_chunk_s: float = setting("min_chunk_s")
    max_chunk_s: float = setting("max_chunk_s")
    segmentation_step_s: float = Field(default=5.0, description="segmentation: step of its 10 s windows.")
    cpu_threads: int = setting("cpu_threads")
    onnx_cache_dir: str = setting("onnx_cache_dir")

    @property
    def model_identity(self) -> str:
        if self.backend == "silero":
            return f"silero-vad-{silero_version()}-sequence-onnx"
        return f"{self.frames_identity}:on{self.threshold}"

    @property
    def frames_identity(self) -> str:
        """The identity of the segmentation scores ``detect_with_frames`` returns (segmentation backend)."""
        return segmentation_identity(self.segmentation_step_s)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.backend == "segmentation":
            self._segmentation()

    def _segmentation(self) -> Future[Any]:
        return shared_model(pyannet_model, self.onnx_cache_dir, self.cpu_threads)

    def _regions(self, wav_path: Path) -> tuple[list[SpeechRegion], int, FrameScores | None]:
        """Speech regions (padded), the audio's length in ms, and segmentation's scores (not silero's)."""
        if self.backend == "silero":
            probabilities, total_samples = speech_probabilities(wav_path, self.cpu_threads)
            duration_ms = total_samples * 1000 // SAMPLE_RATE
            regions = silero_regions(
                probabilities,
                total_samples,
                threshold=self.threshold,
                min_speech_ms=self.min_speech_ms,
                min_silence_ms=self.min_silence_ms,
                speech_pad_ms=self.speech_pad_ms,
            )
            return regions, duration_ms, None
        scores = SpeechSegmenter(self._segmentation().result(), step_s=self.segmentation_step_s).run(wav_path)
        duration_ms = scores.num_samples * 1000 // SAMPLE_RATE
        settings = RegionSettings(
            onset=self.threshold,
            offset=min(0.35, self.threshold),
            min_speech_ms=self.min_speech_ms,
            pad_ms=self.speech_pad_ms,
        )
        spans = speech_regions(scores.speech, scores.frame_step_ms, FRAME_OFFSET_MS, settings, duration_ms)
        return [SpeechRegion(a, b) for a, b in spans], duration_ms, scores

    def detect(self, wav_path: Path) -> VadChunks:
        return self.detect_with_frames(wav_path)[0]

    def detect_with_frames(self, wav_path: Path) -> tuple[VadChunks, FrameScores | None]:
        """The chunks, and the segmentation scores they were drawn from (None for silero)."""
        regions, duration_ms, scores = self._regions(wav_path)
        chunks = chunk_speech(
            regions,
            duration_ms,
            min_chunk_ms=round(self.min_chunk_s * 1000),
            max_chunk_ms=round(self.max_chunk_s * 1000),
            min_silence_ms=self.min_silence_ms,
        )
        return VadChunks(duration_ms=duration_ms, model=self.model_identity, chunks=tuple(chunks)), scores
