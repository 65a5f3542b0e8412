"""Which model backend runs each stage, chosen by environment (the embedded profile is the default).

Assets take their ``code_version`` from these same instances, so a deployment
that switches model or backend sees its hearings go stale in the UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from polsearch_assets.resources.fastembed_embedder import FastEmbedEmbedder
from polsearch_assets.resources.models import (
    Diarizer,
    FasterWhisperTranscriber,
    ResemblyzerDiarizer,
    SentenceTransformerEmbedder,
    TextEmbedder,
    Transcriber,
)
from polsearch_assets.resources.nemo_backends import NemoTdtTranscriber, SortformerDiarizer
from polsearch_assets.settings import env_float, env_str

# How aligned_segments gives each word a speaker (POLSEARCH_WORD_SPEAKERS), as its description says it.
WORD_SPEAKER_RULES = {
    "max-overlap": "Each word gets the speaker whose turns overlap it most (nearest turn if none)",
    "frame-probabilities": "Each word gets the speaker with the highest mean per-frame probability over the "
    "word (nearest turn where no speaker is active)",
}


@dataclass(frozen=True)
class Backends:
    transcriber: Transcriber
    diarizer: Diarizer
    embedder: TextEmbedder
    word_speakers: str = "max-overlap"


# POLSEARCH_PROFILE picks every stage's default backend at once; POLSEARCH_*_BACKEND overrides one stage.
PROFILES = {
    "embedded": {
        "POLSEARCH_ASR_BACKEND": "faster-whisper",
        "POLSEARCH_DIARIZATION_BACKEND": "resemblyzer",
        "POLSEARCH_EMBEDDING_BACKEND": "sentence-transformers",
    },
    "production": {
        "POLSEARCH_ASR_BACKEND": "nemo-tdt",
        "POLSEARCH_DIARIZATION_BACKEND": "sortformer",
        "POLSEARCH_EMBEDDING_BACKEND": "fastembed",
    },
}


def _profile() -> dict[str, str]:
    name = env_str("POLSEARCH_PROFILE", "embedded")
    if name not in PROFILES:
        raise ValueError(
            f"POLSEARCH_PROFILE={name!r} is not a known profile; choose one of: {', '.join(PROFILES)}"
        )
    return PROFILES[name]


def _choose(variable: str, options: dict[str, type]) -> type:
    name = env_str(variable, _profile()[variable])
    if name not in options:
        raise ValueError(
            f"{variable}={name!r} is not a known backend; choose one of: {', '.join(sorted(options))}"
        )
    return options[name]


@cache
def configured_backends() -> Backends:
    threads = int(env_float("POLSEARCH_CPU_THREADS", 2))
    transcriber = _choose(
        "POLSEARCH_ASR_BACKEND",
        {"faster-whisper": FasterWhisperTranscriber, "nemo-tdt": NemoTdtTranscriber},
    )
    transcriber_settings: dict[str, object] = (
        {
            "model": env_str("POLSEARCH_NEMO_ASR_MODEL", "nvidia/parakeet-tdt-0.6b-v2"),
            "model_cache_dir": env_str("MODEL_CACHE_DIR", ""),
            "batch_size": int(env_float("POLSEARCH_NEMO_BATCH_SIZE", 16)),
            "device": env_str("POLSEARCH_NEMO_DEVICE", "auto"),
        }
        if transcriber is NemoTdtTranscriber
        else {"model": env_str("POLSEARCH_WHISPER_MODEL", ""), "cpu_threads": threads}
    )
    diarizer = _choose(
        "POLSEARCH_DIARIZATION_BACKEND",
        {"resemblyzer": ResemblyzerDiarizer, "sortformer": SortformerDiarizer},
    )
    speaker_threshold = env_float("POLSEARCH_SPEAKER_THRESHOLD", 0.3)
    max_speakers = int(env_float("POLSEARCH_MAX_SPEAKERS", 15))
    diarizer_settings: dict[str, object] = (
        {
            "model": env_str("POLSEARCH_NEMO_DIAR_MODEL", "nvidia/diar_streaming_sortformer_4spk-v2"),
            "model_cache_dir": env_str("MODEL_CACHE_DIR", ""),
            "device": env_str("POLSEARCH_NEMO_DEVICE", "auto"),
            "window_s": env_float("POLSEARCH_DIAR_WINDOW_S", 600.0),
            "overlap_s": env_float("POLSEARCH_DIAR_OVERLAP_S", 60.0),
            "link_threshold": speaker_threshold,
            "max_speakers": max_speakers,
        }
        if diarizer is SortformerDiarizer
        else {
            "threshold": speaker_threshold,
            "min_speakers": int(env_float("POLSEARCH_MIN_SPEAKERS", 1)),
            "max_speakers": max_speakers,
            "cpu_threads": threads,
        }
    )
    embedder = _choose(
        "POLSEARCH_EMBEDDING_BACKEND",
        {"sentence-transformers": SentenceTransformerEmbedder, "fastembed": FastEmbedEmbedder},
    )
    embedder_settings: dict[str, object] = {"model_path": env_str("POLSEARCH_EMBEDDING_MODEL_PATH", "")}
    if embedder is FastEmbedEmbedder:
        embedder_settings |= {"cache_dir": env_str("POLSEARCH_EMBEDDING_CACHE_DIR", ""), "threads": threads}
    backends = Backends(
        transcriber=transcriber(**transcriber_settings),
        diarizer=diarizer(**diarizer_settings),
        embedder=embedder(**embedder_settings),
        word_speakers=env_str("POLSEARCH_WORD_SPEAKERS", "max-overlap"),
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
