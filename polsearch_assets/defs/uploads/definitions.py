"""The uploads domain's definitions: the youtube_uploads sensor, its external asset and the watchlist it polls."""

from __future__ import annotations

from typing import Any

import dagster as dg

from polsearch_assets.config import Settings
from polsearch_assets.defs.uploads.resources import UploadsWatch
from polsearch_assets.defs.uploads.sensors import uploads_sensor, youtube_uploads_feed


def resources(settings: Settings) -> dict[str, Any]:
    return {"uploads_watch": UploadsWatch.from_settings(settings)}


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[youtube_uploads_feed(settings)],
        sensors=[uploads_sensor(settings)],
        resources=resources(settings),
    )
