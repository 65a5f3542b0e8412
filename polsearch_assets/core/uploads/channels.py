"""The watchlist: which YouTube channels and playlists (or other feeds) the uploads sensor polls.

A YAML (or JSON) file, named by ``POLSEARCH_CHANNELS_FILE``::

    defaults:                       # optional, applied to every channel that does not say otherwise
      title_pattern: "(?i)hearing|markup"
      min_duration_minutes: 15
      published_after: 2026-01-01
    channels:
      - name: house-judiciary       # plain name: cursor key and run tag
        channel_id: UCVvv3JRCWHHrSbVOR0tN8Gg
        committee: House Judiciary
      - name: senate-commerce
        url: https://www.youtube.com/playlist?list=PLxxxxxxxx
        committee: Senate Commerce, Science, and Transportation
      - name: committee-podcast
        feed_url: https://example.gov/hearings.rss

``POLSEARCH_CHANNELS`` takes a comma-separated list of channel ids / channel or playlist
URLs instead, for a quick start with no options.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from polsearch_assets.core.uploads.feeds import FeedEntry

YOUTUBE_FEED = "https://www.youtube.com/feeds/videos.xml"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_CHANNEL_ID_RE = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_PLAYLIST_ID_RE = re.compile(r"^(PL|UU|FL|OL|LL)[A-Za-z0-9_-]{10,}$")


class WatchlistError(ValueError):
    """The watchlist file or variable cannot be used; the message says where and why."""


class WatchedChannel(BaseModel):
    """One polled source and the filters its uploads must pass to become hearings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    channel_id: str | None = None
    playlist_id: str | None = None
    url: str | None = None  # https://www.youtube.com/channel/UC... or .../playlist?list=PL...
    feed_url: str | None = None  # any Atom or RSS 2.0 feed
    committee: str | None = None
    title_pattern: str | None = None  # Python regex, searched in the title
    min_duration_minutes: float | None = None
    published_after: date | None = None
    probe: bool = True  # look up new uploads' duration and live state with yt-dlp before registering

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError("use letters, digits, '-', '_' and '.', at most 64 characters")
        return value

    @field_validator("title_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a valid regular expression: {error}") from None
        return value

    @model_validator(mode="after")
    def _one_source(self) -> WatchedChannel:
        given = [f for f in ("channel_id", "playlist_id", "url", "feed_url") if getattr(self, f)]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of channel_id, playlist_id, url, feed_url (got {given or 'none'})"
            )
        if self.channel_id and not _CHANNEL_ID_RE.match(self.channel_id):
            raise ValueError(
                f"channel_id {self.channel_id!r} is not a YouTube channel id (UC + 22 characters)"
            )
        if self.playlist_id and not _PLAYLIST_ID_RE.match(self.playlist_id):
            raise ValueError(f"playlist_id {self.playlist_id!r} is not a YouTube playlist id")
        if self.url:
            youtube_feed_query(self.url)  # raises with a hint when the URL names no channel or playlist
        return self

    @property
    def resolved_feed_url(self) -> str:
        if self.feed_url:
            return self.feed_url
        if self.channel_id:
            return f"{YOUTUBE_FEED}?{urlencode({'channel_id': self.channel_id})}"
        if self.playlist_id:
            return f"{YOUTUBE_FEED}?{urlencode({'playlist_id': self.playlist_id})}"
        assert self.url is not None
        return f"{YOUTUBE_FEED}?{urlencode(youtube_feed_query(self.url))}"

    @property
    def min_duration_s(self) -> float | None:
        return None if self.min_duration_minutes is None else self.min_duration_minutes * 60

    def rejects(self, entry: FeedEntry) -> str | None:
        """Why the entry is not a hearing by the cheap rules (title, date), or None."""
        if self.title_pattern and not re.search(self.title_pattern, entry.title or ""):
            return f"title {entry.title!r} does not match {self.title_pattern!r}"
        if self.published_after and entry.published and entry.published.date() < self.published_after:
            return f"published {entry.published.date()} before {self.published_after}"
        return None

    def rejects_duration(self, duration_s: float | None) -> str | None:
        minimum = self.min_duration_s
        if minimum is not None and duration_s is not None and duration_s < minimum:
            return f"{duration_s / 60:.1f} min long, under the {minimum / 60:g} min minimum"
        return None


def youtube_feed_query(url: str) -> dict[str, str]:
    """``{'channel_id': ...}`` or ``{'playlist_id': ...}`` for a YouTube channel or playlist URL."""
    parsed = urlparse(url)
    host = (parsed.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    if host != "youtube.com":
        raise ValueError(f"{url!r} is not a YouTube URL; use feed_url for other feeds")
    playlist = (parse_qs(parsed.query).get("list") or [None])[0]
    if playlist and _PLAYLIST_ID_RE.match(playlist):
        return {"playlist_id": playlist}
    parts = [p for p in parsed.path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "channel" and _CHANNEL_ID_RE.match(parts[1]):
        return {"channel_id": parts[1]}
    raise ValueError(
        f"{url!r} names no channel id or playlist: YouTube publishes feeds by id only. Find a handle's id with "
        f"`yt-dlp --print channel_id --playlist-items 1 {url}` and use channel_id: UC..."
    )


def _channel_from_inline(item: str) -> dict[str, Any]:
    item = item.strip()
    if _CHANNEL_ID_RE.match(item):
        return {"name": item, "channel_id": item}
    if _PLAYLIST_ID_RE.match(item):
        return {"name": item, "playlist_id": item}
    query = youtube_feed_query(item)
    return {"name": next(iter(query.values())), **query}


def parse_watchlist(document: dict[str, Any] | None, origin: str) -> list[WatchedChannel]:
    """Channels of a loaded watchlist document (``defaults`` + ``channels``); errors name ``origin``."""
    document = document or {}
    if not isinstance(document, dict) or not set(document) <= {"defaults", "channels"}:
        raise WatchlistError(f"{origin}: expected a mapping with 'channels' (and optional 'defaults')")
    defaults = document.get("defaults") or {}
    channels: list[WatchedChannel] = []
    for position, item in enumerate(document.get("channels") or []):
        try:
            channels.append(WatchedChannel.model_validate({**defaults, **item}))
        except (ValidationError, TypeError) as error:
            label = item.get("name", f"#{position + 1}") if isinstance(item, dict) else f"#{position + 1}"
            raise WatchlistError(f"{origin}: channel {label}: {error}") from None
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise WatchlistError(f"{origin}: channel names must be unique, got {sorted(names)}")
    return channels


def load_watchlist(path: str | None, inline: str | None) -> list[WatchedChannel]:
    """The configured channels: the file at ``path`` and/or the comma-separated ``inline`` list."""
    channels: list[WatchedChannel] = []
    if path:
        file = Path(path).expanduser()
        try:
            document = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as error:
            raise WatchlistError(f"cannot read the watchlist {file}: {error}") from None
        channels.extend(parse_watchlist(document, str(file)))
    if inline:
        try:
            items = [_channel_from_inline(i) for i in inline.split(",") if i.strip()]
        except ValueError as error:
            raise WatchlistError(f"POLSEARCH_CHANNELS: {error}") from None
        channels.extend(parse_watchlist({"channels": items}, "POLSEARCH_CHANNELS"))
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise WatchlistError(
            f"a channel name is used twice across the watchlist file and POLSEARCH_CHANNELS: {names}"
        )
    return channels
