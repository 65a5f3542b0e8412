"""The polsearch code location: each domain folder's definitions, merged, for one ``Settings``.

``defs`` is what ``dagster dev -w workspace.yaml`` and ``dg`` load: the settings are read from the
environment once, here. Tests and tools build a location for any settings with ``build_definitions``.
"""

from __future__ import annotations

import dagster as dg

from polsearch_assets.config import Settings
from polsearch_assets.defs.hearing.assets import hearing_assets
from polsearch_assets.defs.hearing.automation import hearing_automation
from polsearch_assets.defs.hearing.checks import HEARING_CHECKS
from polsearch_assets.defs.hearing.jobs import hearing_pipeline, register_hearings
from polsearch_assets.defs.hearing.runs import abandoned_runs
from polsearch_assets.defs.hearing.speakers import speaker_library, speaker_names_refresh, voiceprint_library
from polsearch_assets.defs.maintenance.index import (
    index_maintenance,
    index_maintenance_daily,
    index_maintenance_due,
)
from polsearch_assets.defs.maintenance.retention import audio_retention, audio_retention_schedule
from polsearch_assets.defs.notifications.sensors import notification_sensors
from polsearch_assets.defs.platform.execution import configured_executor
from polsearch_assets.defs.platform.health import HEALTH_CHECKS, pipeline_health, pipeline_health_schedule
from polsearch_assets.defs.resources import build_resources
from polsearch_assets.defs.uploads.sensors import uploads_sensor, youtube_uploads_feed


def build_definitions(settings: Settings) -> dg.Definitions:
    resources = build_resources(settings)
    hearing = dg.Definitions(
        assets=[*hearing_assets(settings, resources), voiceprint_library],
        asset_checks=HEARING_CHECKS,
        jobs=[hearing_pipeline, register_hearings, speaker_library, speaker_names_refresh],
        sensors=[hearing_automation, abandoned_runs],
    )
    uploads = dg.Definitions(assets=[youtube_uploads_feed(settings)], sensors=[uploads_sensor(settings)])
    notifications = dg.Definitions(sensors=notification_sensors(settings))
    maintenance = dg.Definitions(
        jobs=[audio_retention, index_maintenance],
        schedules=[audio_retention_schedule(settings), index_maintenance_daily],
        sensors=[index_maintenance_due],
    )
    platform = dg.Definitions(
        asset_checks=HEALTH_CHECKS, jobs=[pipeline_health], schedules=[pipeline_health_schedule(settings)]
    )
    return dg.Definitions.merge(
        hearing,
        uploads,
        notifications,
        maintenance,
        platform,
        dg.Definitions(resources=resources, executor=configured_executor(settings)),
    )


defs = build_definitions(Settings.from_env())
