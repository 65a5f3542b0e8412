"""The platform domain's definitions: the pipeline health checks, job and schedule, and the storage every
domain shares (the artifact store and the LanceDB index)."""

from __future__ import annotations

from typing import Any

import dagster as dg

from polsearch_assets.config import Settings
from polsearch_assets.defs.platform.health import (
    HEALTH_CHECKS,
    HealthPolicy,
    pipeline_health,
    pipeline_health_schedule,
)
from polsearch_assets.defs.platform.storage import configured_artifact_store, configured_lance_index


def resources(settings: Settings) -> dict[str, Any]:
    return {
        "artifact_store": configured_artifact_store(settings),
        "lance_index": configured_lance_index(settings),
        "health": HealthPolicy.from_settings(settings, uploads_configured=settings.uploads_configured()),
    }


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        asset_checks=HEALTH_CHECKS,
        jobs=[pipeline_health],
        schedules=[pipeline_health_schedule(settings)],
        resources=resources(settings),
    )
