"""The production model backends on NVIDIA NeMo (``polsearch[gpu]``): Parakeet TDT for words, streaming
Sortformer for speakers.

They sit behind the same resource interfaces as the embedded profile's, and run on CPU too (slowly),
which is how the tests run them, on tiny randomly initialised models built from configs.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import soundfile as sf
from pydantic import Field, model_validator

from polsearch_assets.contracts import Diarization, Segment, Turn, Word
from polsearch_assets.nemo_models import (
    import_nemo_asr,
    model_label,
    resolve_device,
    resolve_nemo_model,
    restore_nemo_model,
    run_with_backoff,
)
from polsearch_assets.resources.models import (
    Diarizer,
    Transcriber,
    _package_version,
    _voice_encoder,
    read_span,
    shared_model,
)
from polsearch_assets.speaker_clustering import relabel_by_first_appearance
from polsearch_assets.speaker_linking import (
    LocalSpeaker,
    diarization_windows,
    link_speakers,
    stitch_frames,
    stitch_turns,
)
from polsearch_assets.vad import SAMPLE_RATE, SpeechRegion

PARAKEET = "nvidia/parakeet-tdt-0.6b-v2"
# CC-BY-4.0 and streaming. Not diar_sortformer_4spk-v1: CC-BY-NC, offline only, ~12 min per pass.
SORTFORMER = "nvidia/diar_streaming_sortformer_4spk-v2"


class NemoTdtTranscriber(Transcriber):
    """NeMo transducer ASR (Parakeet TDT by default) with word timestamps, batched by similar duration."""

    model: str = Field(
        default=PARAKEET,
        description="NeMo ASR model: a name looked up in the model cache, or a .nemo file (POLSEARCH_NEMO_ASR_MODEL).",
    )
    model_cache_dir: str = Field(default="", description="Pre-populated NeMo model cache (MODEL_CACHE_DIR).")
    device: str = Field(default="auto", description="cuda, cpu or auto (cuda when there is one).")
    batch_size: int = Field(
        default=16,
        description="Chunks per model call; halved on GPU out-of-memory (POLSEARCH_NEMO_BATCH_SIZE).",
    )
    local_attention_after_s: float = Field(
        default=600.0,
        description="Chunks longer than this switch the encoder to local attention (rel_pos_local_attn), "
        "which handles hours; full attention is more accurate below it.",
    )

    @property
    def model_identity(self) -> str:
        return f"nemo-{_package_version('nemo_toolkit')}:{model_label(self.model)}:tdt-greedy"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._model()

    def _model(self) -> Future[Any]:
        path = resolve_nemo_model(self.model, self.model_cache_dir)  # fails here, before the step's work
        return shared_model(_nemo_asr_model, str(path), resolve_device(self.device))

    def transcribe(
        self, wav_path: Path, chunks: Sequence[dict[str, Any]], log: logging.Logger
    ) -> list[Segment]:
        model = self._model().result()
        spans = sorted(
            ((c["start_ms"], c["end_ms"]) for c in chunks), key=lambda s: s[1] - s[0], reverse=True
        )
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


class SortformerDiarizer(Diarizer):
    """Streaming Sortformer (4 speakers per pass) in overlapping windows, linked into global speakers by voice.

    Each window is diarized by the model with its arrival-order speaker cache; the speakers of all
    windows are then linked by speaker embeddings (the embedded profile's voice encoder) under a
    cannot-link rule (``speaker_linking``), so one voice keeps one ``SPEAKER_N`` across hours and a
    hearing may have more speakers than the model tracks at once.
    """

    model: str = Field(
        default=SORTFORMER,
        description="NeMo Sortformer model: a name in the model cache or a .nemo file (POLSEARCH_NEMO_DIAR_MODEL).",
    )
    model_cache_dir: str = Field(default="", description="Pre-populated NeMo model cache (MODEL_CACHE_DIR).")
    device: str = Field(default="auto", description="cuda, cpu or auto.")
    window_s: float = Field(
        default=600.0,
        description="Diarization window (POLSEARCH_DIAR_WINDOW_S): short enough that a window rarely has more "
        "than the model's 4 speakers, long enough to give each voice seconds of speech to link by. "
        "0: the whole hearing in one pass, on the model's speaker cache alone (for hearings with at most "
        "4 speakers).",
    )
    overlap_s: float = Field(
        default=60.0,
        description="Overlap of consecutive windows; turns are kept in each core (POLSEARCH_DIAR_OVERLAP_S).",
    )
    link_threshold: float = Field(
        default=0.3,
        description="Cosine distance up to which window speakers are one voice (POLSEARCH_SPEAKER_THRESHOLD).",
    )
    max_speakers: int = Field(default=15, description="At most this many speakers (POLSEARCH_MAX_SPEAKERS).")
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
            f"nemo-{_package_version('nemo_toolkit')}:{model_label(self.model)}:w{self.window_s:g}/{self.overlap_s:g}s"
            f":c{self.chunk_len}+{self.chunk_right_context}f{self.fifo_len}u{self.spkcache_update_period}"
            f"s{self.spkcache_len}:link-resemblyzer-cos{self.link_threshold}"
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._model()
        shared_model(_voice_encoder)

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

    def diarize(self, wav_path: Path, regions: Sequence[SpeechRegion], log: logging.Logger) -> Diarization:
        if not regions:
            return Diarization(speakers=(), turns=())
        model = self._model().result()
        encoder = shared_model(_voice_encoder).result()
        slots = int(model.cfg.max_num_of_spks)
        local_labels = [f"speaker_{k}" for k in range(slots)]  # NeMo's names for the output columns
        frame_ms = int(model.cfg.encoder.subsampling_factor) * 10  # NeMo's own unit: 10 ms feature frames
        with sf.SoundFile(wav_path) as wav:
            duration_ms = wav.frames * 1000 // wav.samplerate
            windows = diarization_windows(
                duration_ms, round(self.window_s * 1000), round(self.overlap_s * 1000)
            )
            window_turns: dict[int, list[Turn]] = {}
            window_probabilities: dict[int, np.ndarray] = {}
            speakers: list[LocalSpeaker] = []
            full = 0
            for window in windows:
                audio = read_span(wav, window.start_ms, window.end_ms)
                turns, probabilities = _diarize_window(model, audio, window.start_ms)
                window_turns[window.index], window_probabilities[window.index] = turns, probabilities
                speakers.extend(self._local_speakers(encoder, wav, window.index, turns))
                heard = len({t.speaker for t in turns})
                full += heard >= slots
                log.info(
                    f"diarized window {window.index + 1}/{len(windows)}: {heard} speakers, {len(turns)} turns"
                )
        identities = link_speakers(speakers, self.link_threshold, self.max_speakers)
        log.info(f"linked {len(speakers)} window speakers into {len(set(identities.values()))} speakers")
        if full:
            # A window whose every slot is taken may have had more voices than the model tracks at once.
            log.warning(
                f"{full} of {len(windows)} windows used all {slots} speaker slots of the model; "
                "if speakers are merged there, shorten POLSEARCH_DIAR_WINDOW_S"
            )
        frames = stitch_frames(windows, window_probabilities, local_labels, identities, duration_ms, frame_ms)
        result = relabel_by_first_appearance(stitch_turns(windows, window_turns, identities), frames)
        details = {
            "windows": len(windows),
            "window_speakers": len(speakers),
            "windows_at_model_capacity": full,
            "frame_ms": frame_ms,
        }
        return replace(result, details=details)

    def _local_speakers(
        self, encoder: Any, wav: sf.SoundFile, window: int, turns: Sequence[Turn]
    ) -> list[LocalSpeaker]:
        """One voice embedding per speaker of a window, from up to ``max_link_speech_s`` of its longest turns."""
        found = []
        for label in sorted({t.speaker for t in turns}):
            own = sorted(
                (t for t in turns if t.speaker == label), key=lambda t: t.end_ms - t.start_ms, reverse=True
            )
            pieces, total = [], 0
            for turn in own:
                if total >= self.max_link_speech_s * 1000:
                    break
                pieces.append(read_span(wav, turn.start_ms, turn.end_ms))
                total += turn.end_ms - turn.start_ms
            speech_ms = sum(t.end_ms - t.start_ms for t in own)
            found.append(
                LocalSpeaker(window, label, encoder.embed_utterance(np.concatenate(pieces)), speech_ms)
            )
        return found


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
