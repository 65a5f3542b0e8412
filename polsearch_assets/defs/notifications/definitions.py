"""The notifications domain's definitions: the webhook run-status sensors and the notifier they post with."""

from __future__ import annotations

from typing import Any

import dagster as dg

from polsearch_assets.config import Settings
from polsearch_assets.defs.notifications.resources import WebhookNotifier
from polsearch_assets.defs.notifications.sensors import notification_sensors


def webhooks(settings: Settings) -> WebhookNotifier:
    if settings.webhook_url_list() and not settings.webhook_secret:
        raise ValueError(
            "POLSEARCH_WEBHOOK_URLS is set but POLSEARCH_WEBHOOK_SECRET is not: events must be signed"
        )
    # EnvVar: the UI and run config show the variables' names, never the secret or the URLs' tokens.
    return WebhookNotifier(
        urls=dg.EnvVar("POLSEARCH_WEBHOOK_URLS") if settings.webhook_url_list() else "",
        secret=dg.EnvVar("POLSEARCH_WEBHOOK_SECRET") if settings.webhook_secret else "",
    )


def resources(settings: Settings) -> dict[str, Any]:
    return {"webhooks": webhooks(settings)}


def definitions(settings: Settings) -> dg.Definitions:
    return dg.Definitions(sensors=notification_sensors(settings), resources=resources(settings))
