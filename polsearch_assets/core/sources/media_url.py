"""A direct media URL (http or https; anything ffmpeg decodes): key ``url-<12 hex of sha256(URL)>``, fetched by
yt-dlp (its generic extractor)."""

from __future__ import annotations

import hashlib
from urllib.parse import urlparse

from polsearch_assets.core.sources.base import HASH_CHARS, Located
from polsearch_assets.core.sources.ytdlp import YtDlpSource


def normalize_url(url: str) -> str:
    """Scheme and host lower-cased, fragment dropped: the same media URL gives the same key."""
    parsed = urlparse(url.strip())
    return parsed._replace(scheme=parsed.scheme.lower(), netloc=parsed.netloc.lower(), fragment="").geturl()


class MediaUrl(YtDlpSource):
    def resolve(self, text: str) -> Located | None:
        if urlparse(text).scheme.lower() not in ("http", "https"):
            return None
        url = normalize_url(text)
        return Located(f"url-{hashlib.sha256(url.encode()).hexdigest()[:HASH_CHARS]}", url)
