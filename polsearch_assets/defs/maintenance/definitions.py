"""The maintenance domain's definitions: audio retention and index maintenance, their jobs, schedules and
sensor (no resources of their own)."""

from __future__ import annotations

import dagster as dg

from polsearch_assets.config import Settings
from polsearch_assets.defs.maintenance.index import (
    index_maintenance,
    index_maintenance_daily,
    index_maintenance_due,
)
from polsearch_assets.defs.maintenance.retention import audio_retention, audio_retention_schedule


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        jobs=[audio_retention, index_maintenance],
        schedules=[audio_retention_schedule(settings), index_maintenance_daily],
        sensors=[index_maintenance_due],
    )
