"""Which model backend runs each stage: the profile's choice, or a stage's own setting.

Assets take their ``code_version`` from these same instances, so a deployment that switches
model or backend sees its hearings go stale in the UI.
"""

from __future__ import annotations

from dataclasses import dataclass

from polsearch_assets.backends.asr.base import Transcriber
from polsearch_assets.backends.asr.faster_whisper import FasterWhisperTranscriber
from polsearch_assets.backends.asr.nemo_tdt import NemoTdtTranscriber
from polsearch_assets.backends.diarization.base import Diarizer
from polsearch_assets.backends.diarization.campplus import CamppDiarizer
from polsearch_assets.backends.diarization.resemblyzer import ResemblyzerDiarizer
from polsearch_assets.backends.diarization.sortformer import SortformerDiarizer
from polsearch_assets.backends.embedding.base import TextEmbedder
from polsearch_assets.backends.embedding.fastembed import FastEmbedEmbedder
from polsearch_assets.backends.embedding.sentence_transformers import SentenceTransformerEmbedder
from polsearch_assets.config import Settings, env_name

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
        "embedding_backend": "sentence-transformers",
    },
    "production": {
        "asr_backend": "nemo-tdt",
        "diarization_backend": "sortformer",
        "embedding_backend": "fastembed",
    },
}


@dataclass(frozen=True)
class Backends:
    transcriber: Transcriber
    diarizer: Diarizer
    embedder: TextEmbedder
    word_speakers: str = "max-overlap"


def _choose(settings: Settings, field: str, options: dict[str, type]) -> type:
    if settings.profile not in PROFILES:
        raise ValueError(
            f"POLSEARCH_PROFILE={settings.profile!r} is not a known profile; choose one of: {', '.join(PROFILES)}"
        )
    name = getattr(settings, field) or PROFILES[settings.profile][field]
    if name not in options:
        raise ValueError(
            f"{env_name(field)}={name!r} is not a known backend; choose one of: {', '.join(sorted(options))}"
        )
    return options[name]


def configured_backends(settings: Settings) -> Backends:
    transcriber = _choose(
        settings, "asr_backend", {"faster-whisper": FasterWhisperTranscriber, "nemo-tdt": NemoTdtTranscriber}
    )
    transcriber_settings: dict[str, object] = (
        {
            "model": settings.nemo_asr_model,
            "model_cache_dir": settings.model_cache_dir,
            "batch_size": settings.nemo_batch_size,
            "device": settings.nemo_device,
        }
        if transcriber is NemoTdtTranscriber
        else {
            "model": settings.whisper_model,
            "cache_dir": settings.whisper_cache_dir,
            "cpu_threads": settings.cpu_threads,
        }
    )
    diarizer = _choose(
        settings,
        "diarization_backend",
        {"campplus": CamppDiarizer, "resemblyzer": ResemblyzerDiarizer, "sortformer": SortformerDiarizer},
    )
    # Each diarizer's threshold was chosen for its own voice encoder; a set one overrides it.
    threshold = {} if settings.speaker_threshold is None else {"threshold": settings.speaker_threshold}
    speakers = {"min_speakers": settings.min_speakers, "max_speakers": settings.max_speakers}
    diarizer_settings: dict[str, object]
    if diarizer is SortformerDiarizer:
        diarizer_settings = {
            "model": settings.nemo_diar_model,
            "model_cache_dir": settings.model_cache_dir,
            "device": settings.nemo_device,
            "window_s": settings.diar_window_s,
            "overlap_s": settings.diar_overlap_s,
            "max_speakers": settings.max_speakers,
        }
        if settings.speaker_threshold is not None:
            diarizer_settings["link_threshold"] = settings.speaker_threshold
    elif diarizer is CamppDiarizer:
        diarizer_settings = {
            **threshold,
            **speakers,
            "cpu_threads": settings.cpu_threads,
            "onnx_cache_dir": settings.onnx_cache_dir,
        }
    else:
        diarizer_settings = {**threshold, **speakers, "cpu_threads": settings.cpu_threads}
    embedder = _choose(
        settings,
        "embedding_backend",
        {"sentence-transformers": SentenceTransformerEmbedder, "fastembed": FastEmbedEmbedder},
    )
    embedder_settings: dict[str, object] = {"model_path": settings.embedding_model_path}
    if embedder is FastEmbedEmbedder:
        embedder_settings |= {"cache_dir": settings.embedding_cache_dir, "threads": settings.cpu_threads}
    backends = Backends(
        transcriber=transcriber(**transcriber_settings),
        diarizer=diarizer(**diarizer_settings),
        embedder=embedder(**embedder_settings),
        word_speakers=settings.word_speakers,
    )
    if backends.word_speakers not in WORD_SPEAKER_RULES:
        raise ValueError(
            f"POLSEARCH_WORD_SPEAKERS={backends.word_speakers!r} is not a known rule; "
            f"choose one of: {', '.join(WORD_SPEAKER_RULES)}"
        )
    if backends.word_speakers == "frame-probabilities" and not backends.diarizer.gives_frame_probabilities:
        raise ValueError(
            "POLSEARCH_WORD_SPEAKERS=frame-probabilities needs a diarization backend that gives per-frame "
            f"speaker probabilities (sortformer); {type(backends.diarizer).__name__} gives turns only"
        )
    return backends
