"""Speech detection with silero-vad, streamed over a 16 kHz mono WAV.

Uses the ``sequence`` ONNX export that ships in the silero-vad wheel: one ONNX
call per block of 32 ms frames, with the LSTM state and the 64-sample context
carried across blocks, so the result is identical to processing the whole file
at once while only one block of audio is in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np
import soundfile as sf

from polsearch_assets.backends.vad.base import SpeechDetector
from polsearch_assets.core.audio.speech_frames import FrameScores
from polsearch_assets.core.contracts import SpeechRegion

SAMPLE_RATE = 16_000
FRAME_SAMPLES = 512  # 32 ms: the model's frame at 16 kHz
CONTEXT_SAMPLES = 64
FRAMES_PER_BLOCK = 512  # ~16 s of audio per ONNX call


def silero_version() -> str:
    return metadata.version("silero-vad")


def _model_path() -> Path:
    import silero_vad

    return Path(silero_vad.__file__).parent / "data" / "silero_vad_16k_sequence.onnx"


def _frame_blocks(wav: sf.SoundFile) -> Iterator[np.ndarray]:
    """Blocks of shape (frames, CONTEXT + FRAME) read sequentially from the file."""
    previous_context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)
    block_samples = FRAMES_PER_BLOCK * FRAME_SAMPLES
    while True:
        samples = wav.read(block_samples, dtype="float32", always_2d=False)
        if samples.size == 0:
            return
        frame_count = -(-samples.size // FRAME_SAMPLES)
        frames = np.zeros((frame_count, FRAME_SAMPLES), dtype=np.float32)
        frames.reshape(-1)[: samples.size] = samples
        contexts = np.empty((frame_count, CONTEXT_SAMPLES), dtype=np.float32)
        contexts[0] = previous_context
        contexts[1:] = frames[:-1, -CONTEXT_SAMPLES:]
        previous_context = frames[-1, -CONTEXT_SAMPLES:].copy()
        yield np.concatenate((contexts, frames), axis=1)


def speech_probabilities(wav_path: Path, threads: int) -> tuple[np.ndarray, int]:
    """Per-32 ms-frame speech probabilities and the file's length in samples."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(
        str(_model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )
    hidden = np.zeros((1, 1, 128), dtype=np.float32)
    cell = np.zeros((1, 1, 128), dtype=np.float32)
    probabilities: list[np.ndarray] = []
    with sf.SoundFile(wav_path) as wav:
        if wav.samplerate != SAMPLE_RATE or wav.channels != 1:
            raise ValueError(f"{wav_path} is {wav.samplerate} Hz x{wav.channels}; VAD needs 16 kHz mono")
        total_samples = wav.frames
        for block in _frame_blocks(wav):
            values, hidden, cell = session.run(
                ["speech_probs", "hn", "cn"], {"input": block, "h": hidden, "c": cell}
            )
            probabilities.append(values.reshape(-1))
    if not probabilities:
        return np.zeros(0, dtype=np.float32), total_samples
    return np.concatenate(probabilities), total_samples


def speech_regions(
    probabilities: np.ndarray,
    total_samples: int,
    *,
    threshold: float,
    min_speech_ms: int,
    min_silence_ms: int,
    speech_pad_ms: int,
) -> list[SpeechRegion]:
    """Silero's own hysteresis state machine turns frame probabilities into speech regions (ms)."""
    if probabilities.size == 0:
        return []
    from silero_vad.utils_vad import get_speech_timestamps_from_probs

    stamps = get_speech_timestamps_from_probs(
        probabilities.tolist(),
        sampling_rate=SAMPLE_RATE,
        threshold=threshold,
        min_speech_duration_ms=min_speech_ms,
        min_silence_duration_ms=min_silence_ms,
        speech_pad_ms=speech_pad_ms,
        audio_length_samples=total_samples,
    )
    return [
        SpeechRegion(
            start_ms=int(s["start"] * 1000 // SAMPLE_RATE), end_ms=int(-(-s["end"] * 1000 // SAMPLE_RATE))
        )
        for s in stamps
    ]


class SileroVad(SpeechDetector):
    """silero-vad, streamed: for machines without the segmentation model (it loses quiet, far-field speech that
    segmentation-3.0 keeps, BENCHMARKS.md)."""

    @property
    def model_identity(self) -> str:
        return f"silero-vad-{silero_version()}-sequence-onnx"

    def regions(self, wav_path: Path) -> tuple[list[SpeechRegion], int, FrameScores | None]:
        probabilities, total_samples = speech_probabilities(wav_path, self.cpu_threads)
        regions = speech_regions(
            probabilities,
            total_samples,
            threshold=self.threshold,
            min_speech_ms=self.min_speech_ms,
            min_silence_ms=self.min_silence_ms,
            speech_pad_ms=self.speech_pad_ms,
        )
        return regions, total_samples * 1000 // SAMPLE_RATE, None
