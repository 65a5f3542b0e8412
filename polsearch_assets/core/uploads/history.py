"""A channel's or playlist's past uploads in a date range: the historical counterpart of the uploads sensor.

yt-dlp lists the entries (a YouTube channel's ``/videos`` tab or a playlist, newest first,
or any feed yt-dlp reads); an entry whose listing has no date is looked up once. Listing
stops after ``STOP_AFTER_OLDER`` entries in a row older than the range, so a channel with
thousands of videos costs only the pages that reach back to ``date_from``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from polsearch_assets.core.sources.ytdlp import classify_download_error, ydl_options

STOP_AFTER_OLDER = 5


@dataclass(frozen=True)
class PastUpload:
    url: str
    title: str | None
    published: date
    duration_s: float | None
    channel: str | None


def entry_date(info: dict[str, Any]) -> date | None:
    """The publication date yt-dlp gives an entry (upload_date, or a timestamp), if any."""
    if info.get("upload_date"):
        return datetime.strptime(info["upload_date"], "%Y%m%d").date()
    for field in ("timestamp", "release_timestamp"):
        if info.get(field):
            return datetime.fromtimestamp(info[field], UTC).date()
    return None


def _entries(ydl: Any, source: str) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    info = ydl.extract_info(source, download=False, process=False)
    for _ in range(3):  # a channel URL may first resolve to its uploads tab
        if info is None or info.get("_type") not in ("url", "url_transparent"):
            break
        info = ydl.extract_info(info["url"], download=False, process=False)
    if info is None or info.get("_type") not in ("playlist", "multi_video"):
        raise ValueError(
            f"{source} is not a channel, playlist or feed (yt-dlp sees one {(info and info.get('_type')) or 'video'})"
        )
    return info, (e for e in info["entries"] if e)


def list_past_uploads(
    source: str,
    date_from: date,
    date_to: date,
    *,
    socket_timeout_s: float = 30.0,
    max_lookups: int = 500,
    logger: logging.Logger | None = None,
) -> list[PastUpload]:
    """Uploads of ``source`` published in ``[date_from, date_to]``, oldest first."""
    import yt_dlp

    log = logger or logging.getLogger(__name__)
    found: list[PastUpload] = []
    lookups = older_in_a_row = 0
    try:
        with yt_dlp.YoutubeDL({**ydl_options(socket_timeout_s, log), "noplaylist": False}) as ydl:
            playlist, entries = _entries(ydl, source)
            for entry in entries:
                url = entry.get("webpage_url") or entry.get("url")
                if not url:
                    continue
                url = yt_dlp.utils.unsmuggle_url(url)[
                    0
                ]  # feed entries carry yt-dlp's own hints in the fragment
                published = entry_date(entry)
                if published is None and lookups < max_lookups:
                    lookups += 1
                    entry = {**entry, **(ydl.extract_info(url, download=False, process=False) or {})}
                    published = entry_date(entry)
                if published is None:
                    log.warning(f"{url}: no publication date; skipped")
                    continue
                if published > date_to:
                    continue
                if published < date_from:
                    older_in_a_row += 1
                    if older_in_a_row >= STOP_AFTER_OLDER:
                        break
                    continue
                older_in_a_row = 0
                found.append(
                    PastUpload(
                        url=url,
                        title=entry.get("title"),
                        published=published,
                        duration_s=float(entry["duration"]) if entry.get("duration") else None,
                        channel=entry.get("channel") or entry.get("uploader") or playlist.get("title"),
                    )
                )
    except yt_dlp.utils.YoutubeDLError as error:
        raise classify_download_error(error) from error
    log.info(f"{source}: {len(found)} uploads from {date_from} to {date_to} ({lookups} date lookups)")
    return sorted(found, key=lambda u: (u.published, u.url))
