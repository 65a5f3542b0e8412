"""The polsearch code location: every asset, check, job, sensor, schedule and resource is wired here."""

import os

import dagster as dg

from polsearch_assets.automation import hearing_automation
from polsearch_assets.checks import HEARING_CHECKS
from polsearch_assets.execution import configured_executor
from polsearch_assets.health import HEALTH_CHECKS, pipeline_health, pipeline_health_schedule
from polsearch_assets.jobs import HEARING_ASSETS, hearing_pipeline, register_hearings
from polsearch_assets.maintenance import audio_retention, audio_retention_schedule
from polsearch_assets.resources.audio import MediaFetcher, VadChunker
from polsearch_assets.resources.backends import configured_backends
from polsearch_assets.resources.notify import WebhookNotifier
from polsearch_assets.resources.storage import configured_artifact_store, configured_lance_index
from polsearch_assets.resources.watch import UploadsWatch
from polsearch_assets.sensors import (
    notify_hearing_failed,
    notify_hearing_indexed,
    youtube_uploads,
    youtube_uploads_feed,
)
from polsearch_assets.settings import env_float, env_list, env_str

__all__ = ["HEARING_ASSETS", "build_resources", "defs"]


def _webhooks() -> WebhookNotifier:
    urls = env_list("POLSEARCH_WEBHOOK_URLS")
    if not urls:
        return WebhookNotifier()
    if not os.environ.get("POLSEARCH_WEBHOOK_SECRET"):
        raise ValueError(
            "POLSEARCH_WEBHOOK_URLS is set but POLSEARCH_WEBHOOK_SECRET is not: events must be signed"
        )
    # EnvVar: the UI and run config show the variable's name, never the secret.
    return WebhookNotifier(urls=urls, secret=dg.EnvVar("POLSEARCH_WEBHOOK_SECRET"))


def build_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources for the embedded default, tuned by POLSEARCH_* environment variables."""
    backends = configured_backends()
    return {
        "artifact_store": configured_artifact_store(),
        "media_fetcher": MediaFetcher(
            min_duration_s=env_float("POLSEARCH_MIN_DURATION_S", 1.0),
            max_duration_s=env_float("POLSEARCH_MAX_DURATION_S", 8 * 3600.0),
            socket_timeout_s=env_float("POLSEARCH_SOCKET_TIMEOUT_S", 30.0),
        ),
        "vad": VadChunker(
            threshold=env_float("POLSEARCH_VAD_THRESHOLD", 0.5),
            min_chunk_s=env_float("POLSEARCH_MIN_CHUNK_S", 25.0),
            max_chunk_s=env_float("POLSEARCH_MAX_CHUNK_S", 60.0),
        ),
        "transcriber": backends.transcriber,
        "diarizer": backends.diarizer,
        "embedder": backends.embedder,
        "lance_index": configured_lance_index(),
        "uploads_watch": UploadsWatch(
            channels_file=env_str("POLSEARCH_CHANNELS_FILE", ""),
            channels=env_str("POLSEARCH_CHANNELS", ""),
            max_probes_per_tick=int(env_float("POLSEARCH_MAX_PROBES_PER_TICK", 10)),
        ),
        "webhooks": _webhooks(),
    }


defs = dg.Definitions(
    assets=[*HEARING_ASSETS, youtube_uploads_feed],
    asset_checks=[*HEARING_CHECKS, *HEALTH_CHECKS],
    jobs=[hearing_pipeline, register_hearings, pipeline_health, audio_retention],
    sensors=[youtube_uploads, hearing_automation, notify_hearing_indexed, notify_hearing_failed],
    schedules=[pipeline_health_schedule, audio_retention_schedule],
    resources=build_resources(),
    executor=configured_executor(),
)
