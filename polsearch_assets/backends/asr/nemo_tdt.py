"""NeMo Parakeet TDT (``polsearch[gpu]``): the production transcriber, batched by duration, OOM back-off."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import soundfile as sf
from pydantic import Field

from polsearch_assets.backends.asr.base import Transcriber
from polsearch_assets.backends.loading import package_version, read_span, shared_model
from polsearch_assets.backends.nemo import (
    import_nemo_asr,
    model_label,
    resolve_device,
    resolve_nemo_model,
    restore_nemo_model,
    run_with_backoff,
)
from polsearch_assets.config import NemoDevice, setting
from polsearch_assets.core.contracts import Chunk, Segment, Word


class NemoTdtTranscriber(Transcriber):
    """NeMo transducer ASR (Parakeet TDT by default) with word timestamps, batched by similar duration."""

    model: str = setting("nemo_asr_model")
    model_cache_dir: str = setting("model_cache_dir")
    device: NemoDevice = setting("nemo_device")
    batch_size: int = setting("nemo_batch_size")
    local_attention_after_s: float = Field(
        default=600.0,
        description="Chunks longer than this switch the encoder to local attention (rel_pos_local_attn), "
        "which handles hours; full attention is more accurate below it.",
    )

    @property
    def model_identity(self) -> str:
        return f"nemo-{package_version('nemo_toolkit')}:{model_label(self.model)}:tdt-greedy"

    def load(self) -> None:
        self._model()

    def _model(self) -> Future[Any]:
        path = resolve_nemo_model(self.model, self.model_cache_dir)  # fails here, before the step's work
        return shared_model(_nemo_asr_model, str(path), resolve_device(self.device))

    def transcribe(self, wav_path: Path, chunks: Sequence[Chunk], log: logging.Logger) -> list[Segment]:
        model = self._model().result()
        spans = sorted(((c.start_ms, c.end_ms) for c in chunks), key=lambda s: s[1] - s[0], reverse=True)
        if spans and (spans[0][1] - spans[0][0]) / 1000 > self.local_attention_after_s:
            _use_local_attention(model, log)
        done = 0

        def run(batch: Sequence[tuple[int, int]]) -> list[Segment]:
            nonlocal done
            with sf.SoundFile(wav_path) as wav:
                audio = [read_span(wav, start, end) for start, end in batch]
            hypotheses = model.transcribe(audio, batch_size=len(audio), timestamps=True, verbose=False)
            done += len(batch)
            log.info(f"transcribed {done}/{len(spans)} chunks")
            return [
                segment_from_hypothesis(h, start, end)
                for h, (start, end) in zip(hypotheses, batch, strict=True)
            ]

        def backoff(old: int, new: int) -> None:
            log.warning(f"GPU out of memory at batch size {old}; retrying that batch at {new}")

        segments = [s for s in run_with_backoff(spans, self.batch_size, run, backoff) if s.words]
        segments.sort(key=lambda s: (s.start_ms, s.end_ms))
        return [Segment(i, s.start_ms, s.end_ms, s.text, s.words) for i, s in enumerate(segments)]


def segment_from_hypothesis(hypothesis: Any, start_ms: int, end_ms: int) -> Segment:
    """One chunk's NeMo hypothesis as a segment on the global timeline (word times clamped to the chunk).
    TDT greedy decoding gives no word confidence, so words carry none."""
    words = []
    for item in (getattr(hypothesis, "timestamp", None) or {}).get("word", []):
        text = str(item.get("word", "")).strip()
        if not text:
            continue
        word_start = min(max(start_ms + round(float(item["start"]) * 1000), start_ms), end_ms)
        word_end = min(max(start_ms + round(float(item["end"]) * 1000), word_start), end_ms)
        words.append(Word(word=text, start_ms=word_start, end_ms=word_end, confidence=None))
    text = " ".join(w.word for w in words)
    return Segment(
        0, words[0].start_ms if words else start_ms, words[-1].end_ms if words else end_ms, text, tuple(words)
    )


def _nemo_asr_model(path: str, device: str) -> Any:
    import_nemo_asr()
    from nemo.collections.asr.models import ASRModel

    return restore_nemo_model(Path(path), ASRModel, "an ASR", device)


def _use_local_attention(model: Any, log: logging.Logger) -> None:
    if getattr(model, "_polsearch_local_attention", False):
        return
    model.change_attention_model(self_attention_model="rel_pos_local_attn", att_context_size=[128, 128])
    model.change_subsampling_conv_chunking_factor(1)  # bounded memory in the convolutional subsampling
    model._polsearch_local_attention = True
    log.info("long chunks: encoder switched to local attention (rel_pos_local_attn, 128+128 frames)")
