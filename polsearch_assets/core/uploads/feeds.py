"""Upload feeds: YouTube's Atom feeds (a channel's or a playlist's latest uploads) and RSS 2.0 media feeds.

YouTube publishes ``https://www.youtube.com/feeds/videos.xml?channel_id=UC...`` (or
``?playlist_id=PL...``): one small Atom document with the 15 latest uploads, cheap to
poll and stable for years. RSS 2.0 with ``<enclosure>`` (podcast-style feeds some
committees publish) is read the same way, so a watched source can be either.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "yt": "http://www.youtube.com/xml/schemas/2015",
    "media": "http://search.yahoo.com/mrss/",
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
}
_CLOCK_RE = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})$")


class FeedError(ValueError):
    """The document is not a feed this module can read."""


@dataclass(frozen=True)
class FeedEntry:
    entry_id: str  # stable across polls: YouTube video id, RSS guid, or the link
    url: str  # what to ingest: the video page, or the media enclosure
    title: str | None
    published: datetime | None  # timezone-aware
    author: str | None
    duration_s: float | None = None  # when the feed says (RSS itunes:duration); YouTube's feeds do not

    @property
    def published_date(self) -> str | None:
        return self.published.date().isoformat() if self.published else None


@dataclass(frozen=True)
class Feed:
    title: str | None
    entries: tuple[FeedEntry, ...]


def _text(element: ET.Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _iso_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _rfc822_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return _iso_datetime(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_clock_duration(value: str | None) -> float | None:
    """``3723``, ``1:02:03`` or ``62:03`` -> seconds; anything else -> None."""
    if not value:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    match = _CLOCK_RE.match(value)
    if not match:
        return None
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return float(hours * 3600 + minutes * 60 + seconds)


def _atom_entry(entry: ET.Element, feed_author: str | None) -> FeedEntry | None:
    video_id = _text(entry.find("yt:videoId", _NS))
    link = next(
        (
            el.get("href")
            for el in entry.findall("atom:link", _NS)
            if el.get("rel", "alternate") == "alternate" and el.get("href")
        ),
        None,
    )
    if link is None and video_id:
        link = f"https://www.youtube.com/watch?v={video_id}"
    entry_id = video_id or _text(entry.find("atom:id", _NS)) or link
    if not link or not entry_id:
        return None
    return FeedEntry(
        entry_id=entry_id,
        url=link,
        title=_text(entry.find("atom:title", _NS)) or _text(entry.find("media:group/media:title", _NS)),
        published=_iso_datetime(
            _text(entry.find("atom:published", _NS)) or _text(entry.find("atom:updated", _NS))
        ),
        author=_text(entry.find("atom:author/atom:name", _NS)) or feed_author,
    )


def _rss_item(item: ET.Element, feed_title: str | None) -> FeedEntry | None:
    enclosure = item.find("enclosure")
    media_url = enclosure.get("url") if enclosure is not None else None
    link = media_url or _text(item.find("link"))
    entry_id = _text(item.find("guid")) or link
    if not link or not entry_id:
        return None
    return FeedEntry(
        entry_id=entry_id,
        url=link,
        title=_text(item.find("title")),
        published=_rfc822_datetime(_text(item.find("pubDate"))),
        author=_text(item.find("itunes:author", _NS)) or _text(item.find("author")) or feed_title,
        duration_s=parse_clock_duration(_text(item.find("itunes:duration", _NS))),
    )


def parse_feed(document: bytes) -> Feed:
    """Entries of an Atom or RSS 2.0 document, in document order (newest first for YouTube)."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError as error:
        raise FeedError(f"not well-formed XML: {error}") from error
    if root.tag == f"{{{_NS['atom']}}}feed":
        title = _text(root.find("atom:title", _NS))
        author = _text(root.find("atom:author/atom:name", _NS)) or title
        entries = (_atom_entry(e, author) for e in root.findall("atom:entry", _NS))
    elif root.tag == "rss" and root.find("channel") is not None:
        channel = root.find("channel")
        assert channel is not None
        title = _text(channel.find("title"))
        entries = (_rss_item(i, title) for i in channel.findall("item"))
    else:
        raise FeedError(f"root element <{root.tag}> is neither an Atom <feed> nor an RSS 2.0 <rss>")
    return Feed(title=title, entries=tuple(e for e in entries if e is not None))
