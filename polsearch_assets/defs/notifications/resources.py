"""Webhook notifications as a resource: where events go and the secret that signs them."""

from __future__ import annotations

import logging

import dagster as dg
from pydantic import Field

from polsearch_assets.config import comma_items, setting
from polsearch_assets.core.net import Backoff, NetworkError
from polsearch_assets.core.notify.webhooks import Delivery, HearingEvent, deliver, redact_url


class WebhookNotifier(dg.ConfigurableResource):
    """POSTs signed ``hearing.indexed`` / ``hearing.failed`` events to every configured URL."""

    urls: str = setting("webhook_urls")
    secret: str = setting("webhook_secret")
    timeout_s: float = Field(default=10.0, description="Timeout per delivery attempt.")
    attempts: int = Field(
        default=4, description="Tries per URL; 5xx/429/timeouts back off 1 s, 2 s, 4 s (+/- 25 %)."
    )

    def url_list(self) -> list[str]:
        return comma_items(self.urls)

    @property
    def enabled(self) -> bool:
        return bool(self.url_list())

    def send(self, event: HearingEvent, log: logging.Logger) -> list[Delivery]:
        """Deliver to every URL; a receiver that never accepts is logged as an error, not retried forever."""
        if not self.secret:
            raise ValueError(
                "webhook URLs are configured but POLSEARCH_WEBHOOK_SECRET is empty: refusing to send unsigned events"
            )
        deliveries = []
        for url in self.url_list():
            target = redact_url(url)
            try:
                delivery = deliver(
                    url,
                    event,
                    self.secret,
                    timeout_s=self.timeout_s,
                    backoff=Backoff(attempts=self.attempts),
                    on_retry=lambda n, error, wait, target=target: log.warning(
                        f"{event.type} for {event.hearing} to {target}: HTTP {error.status or '-'}; retry {n} in {wait:.1f} s"
                    ),
                )
            except NetworkError as error:
                log.error(
                    f"{event.type} for {event.hearing} not delivered to {target} (HTTP {error.status or '-'})"
                )
                continue
            deliveries.append(delivery)
            log.info(
                f"{event.type} for {event.hearing} delivered to {target} after {delivery.attempts} attempt(s)"
            )
        return deliveries
