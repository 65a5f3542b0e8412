"""The uploads watch: the watchlist and how its feeds are read, as a resource of the uploads sensor."""

from __future__ import annotations

import logging

import dagster as dg
from pydantic import Field

from polsearch_assets.config import FromSettings, setting
from polsearch_assets.core import net
from polsearch_assets.core.sources import ytdlp
from polsearch_assets.core.uploads.channels import WatchedChannel, load_watchlist
from polsearch_assets.core.uploads.polling import ChannelPoll, ChannelState, poll_channels


class UploadsWatch(FromSettings, dg.ConfigurableResource):
    """Which channels and playlists the ``youtube_uploads`` sensor polls, and how."""

    channels_file: str = setting("channels_file")
    channels: str = setting("channels")
    socket_timeout_s: float = Field(default=15.0, description="Timeout per feed request or metadata lookup.")
    fetch_attempts: int = Field(
        default=3,
        description="Tries per feed and tick; transient errors back off 0.5 s, 1 s, ... with jitter.",
    )
    max_probes_per_tick: int = setting("max_probes_per_tick")

    def watchlist(self) -> list[WatchedChannel]:
        return load_watchlist(self.channels_file or None, self.channels or None)

    def poll(
        self, channels: list[WatchedChannel], states: dict[str, ChannelState], log: logging.Logger
    ) -> list[ChannelPoll]:
        backoff = net.Backoff(attempts=self.fetch_attempts, base_delay_s=0.5, max_delay_s=4.0)

        def fetch(url: str, headers: dict[str, str]) -> net.Response:
            return net.call_with_retries(
                lambda: net.request(
                    url, headers=headers, timeout_s=self.socket_timeout_s, accept_statuses=frozenset({304})
                ),
                backoff,
                on_retry=lambda n, error, wait: log.warning(
                    f"feed {url}: {error}; retry {n} in {wait:.1f} s"
                ),
            )

        def probe(url: str) -> ytdlp.UrlProbe:
            return ytdlp.probe_url(url, socket_timeout_s=self.socket_timeout_s, logger=log)

        return poll_channels(channels, states, fetch=fetch, probe=probe, max_probes=self.max_probes_per_tick)
