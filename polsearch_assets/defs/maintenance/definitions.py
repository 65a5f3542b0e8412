"""The maintenance domain's definitions: the audio retention job and its schedule (no resources of its own)."""

from __future__ import annotations

import dagster as dg

from polsearch_assets.config import Settings
from polsearch_assets.defs.maintenance.retention import audio_retention, audio_retention_schedule


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(jobs=[audio_retention], schedules=[audio_retention_schedule(settings)])
