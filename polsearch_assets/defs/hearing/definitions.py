"""The hearing domain's definitions: its eight assets and voiceprint library, checks, jobs, sensors, and the
resources it binds (media fetching, the four model stages, word speakers, speaker matching)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from polsearch_assets.backends.profiles import configured_backends
from polsearch_assets.config import Settings
from polsearch_assets.defs.hearing.assets import hearing_assets
from polsearch_assets.defs.hearing.automation import hearing_automation
from polsearch_assets.defs.hearing.checks import HEARING_CHECKS
from polsearch_assets.defs.hearing.engines import (
    DiarizerResource,
    SpeechDetectorResource,
    TextEmbedderResource,
    TranscriberResource,
)
from polsearch_assets.defs.hearing.jobs import hearing_pipeline, register_hearings
from polsearch_assets.defs.hearing.name_refresh import speaker_names_behind
from polsearch_assets.defs.hearing.naming import (
    SpeakerMatching,
    speaker_library,
    speaker_names_refresh,
    voiceprint_library,
)
from polsearch_assets.defs.hearing.resources import MediaFetcher
from polsearch_assets.defs.hearing.runs import abandoned_runs
from polsearch_assets.defs.hearing.stale import stale_hearings_sensor
from polsearch_assets.defs.hearing.transcripts import WordSpeakers


def resources(settings: Settings) -> dict[str, Any]:
    backends = configured_backends(settings)
    return {
        "media_fetcher": MediaFetcher.from_settings(settings),
        "vad": SpeechDetectorResource.of(backends.speech_detector),
        "transcriber": TranscriberResource.of(backends.transcriber),
        "diarizer": DiarizerResource.of(backends.diarizer),
        "word_speakers": WordSpeakers.from_settings(settings),
        "embedder": TextEmbedderResource.of(backends.embedder),
        "speaker_matching": SpeakerMatching.from_settings(settings),
    }


def definitions(settings: Settings) -> dg.Definitions:
    bound = resources(settings)
    return dg.Definitions(
        assets=[*hearing_assets(settings, bound), voiceprint_library],
        asset_checks=HEARING_CHECKS,
        jobs=[hearing_pipeline, register_hearings, speaker_library, speaker_names_refresh],
        sensors=[hearing_automation, abandoned_runs, speaker_names_behind, stale_hearings_sensor(settings)],
        resources=bound,
    )
