"""Which model backend runs each stage: the profile's choice, or a stage's own setting.

Assets take their ``code_version`` from these same instances, so a deployment that switches
model or backend sees its hearings go stale in the UI.
"""

from __future__ import annotations

from dataclasses import dataclass

from polsearch_assets.backends.asr.base import Transcriber
from polsearch_assets.backends.asr.registry import TRANSCRIBERS
from polsearch_assets.backends.diarization.base import Diarizer
from polsearch_assets.backends.diarization.registry import DIARIZERS
from polsearch_assets.backends.embedding.base import TextEmbedder
from polsearch_assets.backends.embedding.registry import EMBEDDERS
from polsearch_assets.backends.vad.base import SpeechDetector
from polsearch_assets.backends.vad.registry import SPEECH_DETECTORS
from polsearch_assets.config import Settings, WordSpeakersRule

# How aligned_segments gives each word a speaker (POLSEARCH_WORD_SPEAKERS), as its description says it.
WORD_SPEAKER_RULES = {
    "max-overlap": "Each word gets the speaker whose turns overlap it most (nearest turn if none)",
    "frame-probabilities": "Each word gets the speaker with the highest mean per-frame probability over the "
    "word (nearest turn where no speaker is active)",
}

# POLSEARCH_PROFILE picks every stage's default backend at once; a stage's own setting overrides it.
PROFILES = {
    "embedded": {
        "asr_backend": "faster-whisper",
        "diarization_backend": "campplus",
        "embedding_backend": "onnx",
    },
    "production": {
        "asr_backend": "nemo-tdt",
        "diarization_backend": "sortformer",
        "embedding_backend": "fastembed",
    },
}


@dataclass(frozen=True)
class Backends:
    speech_detector: SpeechDetector
    transcriber: Transcriber
    diarizer: Diarizer
    embedder: TextEmbedder
    word_speakers: WordSpeakersRule


def stage_backend(settings: Settings, field: str) -> str:
    """A stage's backend name: its own setting, else the profile's (both checked when settings load)."""
    return getattr(settings, field) or PROFILES[settings.profile][field]


def configured_backends(settings: Settings) -> Backends:
    diarizer = DIARIZERS[stage_backend(settings, "diarization_backend")]
    # Each diarizer's threshold was chosen for its own voice encoder; a set one overrides it.
    threshold = (
        {} if settings.speaker_threshold is None else {diarizer.threshold_field: settings.speaker_threshold}
    )
    backends = Backends(
        speech_detector=SPEECH_DETECTORS[settings.vad_backend].from_settings(settings),
        transcriber=TRANSCRIBERS[stage_backend(settings, "asr_backend")].from_settings(settings),
        diarizer=diarizer.from_settings(settings, **threshold),
        embedder=EMBEDDERS[stage_backend(settings, "embedding_backend")].from_settings(settings),
        word_speakers=settings.word_speakers,
    )
    if backends.word_speakers == "frame-probabilities" and not backends.diarizer.gives_frame_probabilities:
        raise ValueError(
            "POLSEARCH_WORD_SPEAKERS=frame-probabilities needs a diarization backend that gives per-frame "
            f"speaker probabilities (sortformer); {type(backends.diarizer).__name__} gives turns only"
        )
    return backends
