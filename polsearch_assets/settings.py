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
