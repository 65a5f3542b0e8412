"""Hearing keys: stable, plain identifiers derived from a hearing's source.

A key is both a Dagster partition key and a storage path component, so it is
validated strictly: ASCII letters, digits, ``-`` and ``_``, bounded length.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qs, urlparse

MAX_KEY_LENGTH = 64
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_YOUTUBE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be"}
_HASH_CHARS = 12
_READ_BLOCK = 1 << 20


class InvalidHearingKey(ValueError):
    """A hearing key that cannot be used as a partition key and path component."""


class SourceKind(StrEnum):
    YOUTUBE = "youtube"
    URL = "url"
    FILE = "file"


@dataclass(frozen=True)
class ResolvedSource:
    """A source as given, classified, with the key it maps to."""

    key: str
    kind: SourceKind
    source: str  # as the user gave it
    location: str  # what raw_audio reads: the URL, or the absolute file path


def validate_hearing_key(key: str) -> str:
    """Return ``key`` unchanged if it is a valid hearing key, else raise InvalidHearingKey."""
    if not isinstance(key, str) or not key:
        raise InvalidHearingKey("hearing key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidHearingKey(f"hearing key {key[:20]!r}... is longer than {MAX_KEY_LENGTH} characters")
    if not _KEY_RE.match(key):
        raise InvalidHearingKey(
            f"hearing key {key!r} may contain only ASCII letters, digits, '-' and '_' "
            "and must start with a letter or digit"
        )
    return key


def youtube_video_id(url: str) -> str | None:
    """The 11-character video id of a YouTube watch/short/live/embed/youtu.be URL, else None."""
    parsed = urlparse(url.strip())
    host = (parsed.hostname or "").lower()
    if parsed.scheme not in ("http", "https") or host not in _YOUTUBE_HOSTS:
        return None
    candidate: str | None
    if host == "youtu.be":
        candidate = parsed.path.strip("/").split("/")[0]
    elif parsed.path == "/watch":
        candidate = (parse_qs(parsed.query).get("v") or [None])[0]
    else:
        parts = [p for p in parsed.path.split("/") if p]
        candidate = parts[1] if len(parts) >= 2 and parts[0] in ("shorts", "live", "embed", "v") else None
    return candidate if candidate and _YOUTUBE_ID_RE.match(candidate) else None


def _short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:_HASH_CHARS]


def file_content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()[:_HASH_CHARS]


def normalize_url(url: str) -> str:
    """Scheme and host lower-cased, fragment dropped: the same media URL gives the same key."""
    parsed = urlparse(url.strip())
    return parsed._replace(scheme=parsed.scheme.lower(), netloc=parsed.netloc.lower(), fragment="").geturl()


def resolve_source(source: str) -> ResolvedSource:
    """Classify a source and derive its stable hearing key.

    YouTube videos become ``yt-<videoid>``; other URLs ``url-<hash of the URL>``;
    local files ``file-<hash of the content>`` (the same recording registered
    from two paths is one hearing). A missing local file raises FileNotFoundError.
    """
    text = source.strip()
    if not text:
        raise ValueError("source is empty: give a YouTube URL, a media URL or a local file path")
    video_id = youtube_video_id(text)
    if video_id:
        return ResolvedSource(
            f"yt-{video_id}", SourceKind.YOUTUBE, source, f"https://www.youtube.com/watch?v={video_id}"
        )
    scheme = urlparse(text).scheme.lower()
    if scheme in ("http", "https"):
        url = normalize_url(text)
        return ResolvedSource(f"url-{_short_hash(url.encode())}", SourceKind.URL, source, url)
    if scheme and scheme != "file" and len(scheme) > 1:  # len 1: a Windows drive letter
        raise ValueError(f"unsupported source scheme {scheme!r} in {source!r}: use http(s) or a local path")
    path = Path(text.removeprefix("file://")).expanduser().resolve()
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a recording: give the path of an audio or video file")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    return ResolvedSource(f"file-{file_content_hash(path)}", SourceKind.FILE, source, str(path))
