"""Every resource of the code location, built from one ``Settings``."""

from __future__ import annotations

from typing import Any

import dagster as dg

from polsearch_assets.backends.profiles import configured_backends
from polsearch_assets.config import Settings
from polsearch_assets.defs.hearing.engines import (
    DiarizerResource,
    SpeechDetectorResource,
    TextEmbedderResource,
    TranscriberResource,
)
from polsearch_assets.defs.hearing.resources import MediaFetcher
from polsearch_assets.defs.hearing.speakers import SpeakerMatching
from polsearch_assets.defs.hearing.transcripts import WordSpeakers
from polsearch_assets.defs.notifications.resources import WebhookNotifier
from polsearch_assets.defs.platform.health import HealthPolicy
from polsearch_assets.defs.platform.storage import configured_artifact_store, configured_lance_index
from polsearch_assets.defs.uploads.resources import UploadsWatch


def _webhooks(settings: Settings) -> WebhookNotifier:
    if settings.webhook_url_list() and not settings.webhook_secret:
        raise ValueError(
            "POLSEARCH_WEBHOOK_URLS is set but POLSEARCH_WEBHOOK_SECRET is not: events must be signed"
        )
    # EnvVar: the UI and run config show the variables' names, never the secret or the URLs' tokens.
    return WebhookNotifier(
        urls=dg.EnvVar("POLSEARCH_WEBHOOK_URLS") if settings.webhook_url_list() else "",
        secret=dg.EnvVar("POLSEARCH_WEBHOOK_SECRET") if settings.webhook_secret else "",
    )


def build_resources(settings: Settings) -> dict[str, Any]:
    backends = configured_backends(settings)
    return {
        "artifact_store": configured_artifact_store(settings),
        "media_fetcher": MediaFetcher.from_settings(settings),
        "vad": SpeechDetectorResource.of(backends.speech_detector),
        "transcriber": TranscriberResource.of(backends.transcriber),
        "diarizer": DiarizerResource.of(backends.diarizer),
        "word_speakers": WordSpeakers.from_settings(settings),
        "embedder": TextEmbedderResource.of(backends.embedder),
        "lance_index": configured_lance_index(settings),
        "speaker_matching": SpeakerMatching.from_settings(settings),
        "uploads_watch": UploadsWatch.from_settings(settings),
        "webhooks": _webhooks(settings),
        "health": HealthPolicy.from_settings(settings, uploads_configured=settings.uploads_configured()),
    }
