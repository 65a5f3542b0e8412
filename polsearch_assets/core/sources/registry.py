"""The source kinds by the name the catalog records (``source_kind``): a new kind is one line here. A source
is the first kind, in this order, that takes it, so a YouTube link is never a plain media URL."""

from __future__ import annotations

from urllib.parse import urlparse

from polsearch_assets.core.sources.base import ResolvedSource, Source
from polsearch_assets.core.sources.local_file import LocalFile
from polsearch_assets.core.sources.media_url import MediaUrl
from polsearch_assets.core.sources.youtube import YouTube

SOURCES: dict[str, Source] = {"youtube": YouTube(), "url": MediaUrl(), "file": LocalFile()}


def source_kind(name: str) -> Source:
    """The kind a catalog entry's ``source_kind`` names."""
    try:
        return SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown source kind {name!r}; known: {', '.join(SOURCES)}") from None


def resolve_source(source: str) -> ResolvedSource:
    """Classify a source and derive its stable hearing key: YouTube videos become ``yt-<videoid>``, other URLs
    ``url-<hash of the URL>``, local files ``file-<hash of the content>``. A missing local file raises
    FileNotFoundError, anything else no kind takes ValueError."""
    text = source.strip()
    if not text:
        raise ValueError("source is empty: give a YouTube URL, a media URL or a local file path")
    for kind, implementation in SOURCES.items():
        if (found := implementation.resolve(text)) is not None:
            return ResolvedSource(found.key, kind, source, found.location)
    scheme = urlparse(text).scheme.lower()
    raise ValueError(f"unsupported source scheme {scheme!r} in {source!r}: use http(s) or a local path")
