"""A YouTube video (watch, youtu.be, shorts, live and embed links): key ``yt-<video id>``, fetched by yt-dlp."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from polsearch_assets.core.sources.base import Located
from polsearch_assets.core.sources.ytdlp import YtDlpSource

_VIDEO_ID_RE = re.compile(r"^[A-Za-z0-9_-]{11}$")
_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be"}


def youtube_video_id(url: str) -> str | None:
    """The 11-character video id of a YouTube watch/short/live/embed/youtu.be URL, else None."""
    parsed = urlparse(url.strip())
    host = (parsed.hostname or "").lower()
    if parsed.scheme not in ("http", "https") or host not in _HOSTS:
        return None
    candidate: str | None
    if host == "youtu.be":
        candidate = parsed.path.strip("/").split("/")[0]
    elif parsed.path == "/watch":
        candidate = (parse_qs(parsed.query).get("v") or [None])[0]
    else:
        parts = [p for p in parsed.path.split("/") if p]
        candidate = parts[1] if len(parts) >= 2 and parts[0] in ("shorts", "live", "embed", "v") else None
    return candidate if candidate and _VIDEO_ID_RE.match(candidate) else None


class YouTube(YtDlpSource):
    """The same video under any of its links is one hearing, read from its watch page."""

    def resolve(self, text: str) -> Located | None:
        video_id = youtube_video_id(text)
        if video_id is None:
            return None
        return Located(f"yt-{video_id}", f"https://www.youtube.com/watch?v={video_id}")
