"""Configuration from the environment, with the embedded defaults."""

from __future__ import annotations

import os
from pathlib import Path

POLSEARCH_HOME_DEFAULT = ".polsearch"


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"environment variable {name}={value!r} is not a number") from None


def polsearch_home() -> Path:
    """Root of the embedded deployment's local state (artifacts, Dagster instance)."""
    return Path(env_str("POLSEARCH_HOME", POLSEARCH_HOME_DEFAULT)).resolve()


def artifact_root() -> str:
    return env_str("POLSEARCH_ARTIFACT_ROOT", str(polsearch_home() / "artifacts"))


def lancedb_uri() -> str:
    return env_str("POLSEARCH_LANCEDB_URI", str(polsearch_home() / "lancedb"))


def env_list(name: str) -> list[str]:
    """A comma-separated variable as a list of its non-empty items."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def uploads_interval_s() -> int:
    """Seconds between ticks of the uploads sensor (POLSEARCH_UPLOADS_INTERVAL_S)."""
    return int(env_float("POLSEARCH_UPLOADS_INTERVAL_S", 900))


def uploads_configured() -> bool:
    return bool(env_str("POLSEARCH_CHANNELS_FILE", "") or env_str("POLSEARCH_CHANNELS", ""))


def index_lag_hours() -> float:
    """Registered hearings must be indexed within this many hours (POLSEARCH_INDEX_LAG_HOURS)."""
    return env_float("POLSEARCH_INDEX_LAG_HOURS", 24.0)


def index_freshness_hours() -> float:
    """The index must have been updated within this many hours (POLSEARCH_INDEX_FRESHNESS_HOURS)."""
    return env_float("POLSEARCH_INDEX_FRESHNESS_HOURS", 7 * 24.0)


def audio_retention_days() -> float | None:
    """Delete intermediate audio of indexed hearings after this many days (POLSEARCH_AUDIO_RETENTION_DAYS)."""
    value = env_str("POLSEARCH_AUDIO_RETENTION_DAYS", "")
    return env_float("POLSEARCH_AUDIO_RETENTION_DAYS", 0) if value else None
