"""resemblyzer voice embeddings + global clustering: a CPU diarizer, and the voice encoder Sortformer's window linking uses."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from pydantic import Field

from polsearch_assets.backends.diarization.base import Diarizer
from polsearch_assets.backends.loading import package_version, read_span, shared_model
from polsearch_assets.backends.vad.silero import SAMPLE_RATE
from polsearch_assets.config import setting
from polsearch_assets.core.audio.speech_frames import FrameScores
from polsearch_assets.core.contracts import Diarization, SpeechRegion
from polsearch_assets.core.speakers.clustering import (
    ClusteringSettings,
    WindowSpan,
    cluster_embeddings,
    mean_voices,
    smooth_labels,
    turns_from_windows,
)

# The name voices from this encoder keep (256-d, utterance embeddings): voiceprints compare only within it.
RESEMBLYZER_VOICES = "resemblyzer-256"


class ResemblyzerDiarizer(Diarizer):
    """resemblyzer speaker embeddings on sliding windows + global clustering with speaker-count estimation."""

    hop_s: float = Field(default=0.4, description="Step between 1.6 s embedding windows.")
    threshold: float = Field(
        default=0.3,
        description="Cosine distance below which voices are merged (POLSEARCH_SPEAKER_THRESHOLD).",
    )
    min_speakers: int = setting("min_speakers")
    max_speakers: int = setting("max_speakers")
    min_speaker_s: float = Field(
        default=3.0, description="A voice heard for less than this joins the nearest speaker."
    )
    batch_size: int = Field(default=128, description="Windows per encoder forward pass.")
    cpu_threads: int = setting("cpu_threads")

    def load(self) -> None:
        shared_model(voice_encoder)

    @property
    def model_identity(self) -> str:
        return f"resemblyzer-{package_version('resemblyzer')}:hop{self.hop_s}:ahc-average-cos{self.threshold}:min{self.min_speaker_s}s"

    def embed_windows(
        self, wav_path: Path, regions: Sequence[SpeechRegion]
    ) -> tuple[np.ndarray, list[WindowSpan]]:
        """One 256-d embedding per 1.6 s window, ``hop_s`` apart, inside every speech region."""
        import torch
        from resemblyzer import hparams
        from resemblyzer.audio import wav_to_mel_spectrogram

        torch.set_num_threads(self.cpu_threads)
        encoder = shared_model(voice_encoder).result()
        window = hparams.partials_n_frames  # 160 frames of 10 ms
        hop = max(1, round(self.hop_s * 100))
        embeddings: list[np.ndarray] = []
        spans: list[WindowSpan] = []
        pending: list[np.ndarray] = []

        def flush() -> None:
            if pending:
                with torch.inference_mode():
                    embeddings.append(encoder(torch.from_numpy(np.stack(pending))).numpy())
                pending.clear()

        with sf.SoundFile(wav_path) as wav:
            for index, region in enumerate(regions):
                mel = wav_to_mel_spectrogram(read_span(wav, region.start_ms, region.end_ms))
                if len(mel) < window:  # a short region: one zero-padded window
                    mel = np.pad(mel, ((0, window - len(mel)), (0, 0)))
                starts = list(range(0, len(mel) - window + 1, hop))
                if starts[-1] + window < len(mel):
                    starts.append(len(mel) - window)
                for start in starts:
                    pending.append(mel[start : start + window])
                    center = region.start_ms + min(
                        (start + window // 2) * 10, region.end_ms - region.start_ms
                    )
                    spans.append(WindowSpan(index, center))
                    if len(pending) == self.batch_size:
                        flush()
            flush()
        return (np.concatenate(embeddings) if embeddings else np.zeros((0, 256), dtype=np.float32)), spans

    def diarize(
        self,
        wav_path: Path,
        regions: Sequence[SpeechRegion],
        log: logging.Logger,
        frames: FrameScores | None = None,  # segmentation scores: this diarizer takes none
    ) -> Diarization:
        if not regions:
            return Diarization(speakers=(), turns=(), voice_encoder=RESEMBLYZER_VOICES)
        embeddings, spans = self.embed_windows(wav_path, regions)
        log.info(f"{len(spans)} speaker-embedding windows over {len(regions)} speech regions")
        settings = ClusteringSettings(
            threshold=self.threshold,
            min_speakers=self.min_speakers,
            max_speakers=self.max_speakers,
            min_cluster_size=max(1, round(self.min_speaker_s / self.hop_s)),
        )
        labels = smooth_labels(cluster_embeddings(embeddings, settings), spans)
        return turns_from_windows(
            [(r.start_ms, r.end_ms) for r in regions],
            spans,
            labels,
            voices=mean_voices(embeddings, labels),
            voice_encoder=RESEMBLYZER_VOICES,
        )


def voice_encoder() -> Any:
    with warnings.catch_warnings():  # resemblyzer -> webrtcvad imports pkg_resources, deprecated but pinned
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        from resemblyzer import VoiceEncoder
        from resemblyzer.audio import wav_to_mel_spectrogram

    wav_to_mel_spectrogram(np.zeros(SAMPLE_RATE, dtype=np.float32))  # librosa's first call compiles: ~2 s
    return VoiceEncoder(device="cpu", verbose=False)
