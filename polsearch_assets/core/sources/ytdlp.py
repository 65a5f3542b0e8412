"""yt-dlp, for the source kinds that download (YouTube, a direct media URL) and for the uploads watch: quiet,
its own retries off (the orchestrator retries with backoff), and its errors classified as transient or
permanent ``MediaError``s."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polsearch_assets.core.audio.media import MediaError, PermanentMediaError, TransientMediaError
from polsearch_assets.core.net import TRANSIENT_HTTP_STATUSES
from polsearch_assets.core.sources.base import FetchedMedia, FetchLimits, Source

# YouTube's answers to too many requests from one address: they pass, so retry with backoff.
_THROTTLED = ("not a bot", "try again later", "rate-limited")
# A connection cut in the middle of a download: the body ended early, or the peer reset it.
_DROPPED = re.compile(r"\d+ bytes read, \d+ more expected|connection (reset|aborted)", re.IGNORECASE)


def _http_status(error: BaseException | None) -> int | None:
    from yt_dlp.networking.exceptions import HTTPError

    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, HTTPError):
            return int(error.status)
        error = getattr(error, "cause", None) or error.__cause__ or error.__context__
    return None


def _is_transport_error(error: BaseException | None) -> bool:
    from yt_dlp.networking.exceptions import HTTPError, TransportError

    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, TransportError) and not isinstance(error, HTTPError):
            return True
        if isinstance(error, TimeoutError | ConnectionError):
            return True
        error = getattr(error, "cause", None) or error.__cause__ or error.__context__
    return False


def classify_download_error(error: BaseException) -> MediaError:
    """Map a yt-dlp error to a transient or permanent MediaError with a readable message."""
    from yt_dlp.utils import ContentTooShortError

    cause = getattr(error, "exc_info", None)
    root = cause[1] if cause and cause[1] is not None else error
    if isinstance(root, MediaError):
        return root
    if isinstance(root, ContentTooShortError):
        return TransientMediaError(
            f"the connection dropped after {root.downloaded} of {root.expected} bytes"  # type: ignore[attr-defined]
        )
    message = str(getattr(root, "orig_msg", None) or root).removeprefix("ERROR: ").strip()
    status = _http_status(root)
    if status is not None:
        kind = TransientMediaError if status in TRANSIENT_HTTP_STATUSES else PermanentMediaError
        return kind(f"HTTP {status} from the source: {message}")
    if _is_transport_error(root):
        return TransientMediaError(f"network error: {message}")
    if "Did not get any data blocks" in message:
        return PermanentMediaError(f"the source sent an empty file ({message})")
    if dropped := _DROPPED.search(
        message
    ):  # yt-dlp reports these by message only, once its retries are spent
        return TransientMediaError(f"the connection dropped mid-download ({dropped.group(0)})")
    if any(phrase in message.lower() for phrase in _THROTTLED):
        return TransientMediaError(f"the site is throttling requests: {message}")
    if "Unsupported URL" in message:
        return PermanentMediaError(f"no audio or video found at the URL ({message})")
    return PermanentMediaError(message)


class _YtDlpLogger:
    """Routes yt-dlp's output to our logger instead of stdout."""

    def __init__(self, logger: logging.Logger):
        self._logger = logger

    def debug(self, msg: str) -> None:
        if not msg.startswith("[debug]"):
            self._logger.debug(msg)

    def info(self, msg: str) -> None:
        self._logger.debug(msg)

    def warning(self, msg: str) -> None:
        self._logger.info(msg)

    def error(self, msg: str) -> None:
        self._logger.debug(msg)  # raised as an exception and reported by the caller


# yt-dlp's live_status values for a stream that has no complete recording yet.
LIVE_NOT_DOWNLOADABLE = frozenset({"is_live", "is_upcoming", "post_live"})


def live_status(info: dict[str, Any]) -> str | None:
    return info.get("live_status") or ("is_live" if info.get("is_live") else None)


def ydl_options(socket_timeout_s: float, logger: logging.Logger) -> dict[str, Any]:
    """yt-dlp quiet, logging to ``logger``, with its own retries off: callers retry with backoff."""
    return {
        "noplaylist": True,
        "quiet": True,
        "no_warnings": False,
        "noprogress": True,
        "logger": _YtDlpLogger(logger),
        "socket_timeout": socket_timeout_s,
        "retries": 0,
        "fragment_retries": 0,
        "extractor_retries": 0,
        "cachedir": False,
    }


@dataclass(frozen=True)
class UrlProbe:
    """What yt-dlp says of a URL without downloading it."""

    duration_s: float | None
    live_status: str | None
    title: str | None


def probe_url(url: str, *, socket_timeout_s: float, logger: logging.Logger) -> UrlProbe:
    """Duration and live state of a video page or media URL (one extraction, no format selection)."""
    import yt_dlp

    try:
        with yt_dlp.YoutubeDL(ydl_options(socket_timeout_s, logger)) as ydl:
            info = ydl.extract_info(url, download=False, process=False)
    except yt_dlp.utils.YoutubeDLError as error:
        raise classify_download_error(error) from error
    if info is None:
        raise PermanentMediaError(f"yt-dlp found no media at {url}")
    if info.get("_type") == "playlist":
        raise PermanentMediaError(f"{url} is a playlist or channel, not one recording")
    duration = info.get("duration")
    return UrlProbe(
        duration_s=float(duration) if duration else None,
        live_status=live_status(info),
        title=info.get("title"),
    )


def fetch_url(url: str, workdir: Path, limits: FetchLimits, logger: logging.Logger) -> FetchedMedia:
    """Download the best audio of a YouTube video or a direct media URL into ``workdir``.

    Metadata is extracted first so a live stream or a video outside the allowed
    duration range (``limits.check_duration`` raises) fails before anything is downloaded. A
    download whose announced or received size passes ``limits.max_bytes`` stops there (a stream
    that never ends, a recording far over the maximum duration). yt-dlp's own retries are
    off: the orchestrator retries transient errors with backoff and shows each attempt.
    """
    import yt_dlp

    def within_limit(progress: dict[str, Any]) -> None:
        size = max(progress.get("total_bytes") or 0, progress.get("downloaded_bytes") or 0)
        if size > limits.max_bytes:
            raise PermanentMediaError(
                f"the download passed {limits.max_bytes / 1e6:,.0f} MB, the most a recording of the maximum "
                "duration should take (POLSEARCH_MAX_DOWNLOAD_MB, POLSEARCH_MAX_DURATION_S); stopped"
            )

    options = {
        **ydl_options(limits.socket_timeout_s, logger),
        "progress_hooks": [within_limit],
        "format": "bestaudio/best",
        "outtmpl": str(workdir / "source.%(ext)s"),
        "overwrites": True,
        "restrictfilenames": True,
    }
    try:
        with yt_dlp.YoutubeDL(options) as ydl:
            info = ydl.extract_info(url, download=False)
            if info is None:
                raise PermanentMediaError(f"yt-dlp found no media at {url}")
            if info.get("_type") == "playlist":
                raise PermanentMediaError(f"{url} is a playlist or channel, not one recording")
            if live_status(info) in LIVE_NOT_DOWNLOADABLE:
                raise PermanentMediaError(f"{url} is a live stream still running or not started yet")
            if info.get("duration"):
                limits.check_duration(float(info["duration"]))
            info = ydl.process_ie_result(info, download=True)
    except MediaError:
        raise
    except yt_dlp.utils.YoutubeDLError as error:
        raise classify_download_error(error) from error
    files = [p for p in workdir.iterdir() if p.is_file() and p.name.startswith("source.")]
    if not files:
        raise PermanentMediaError(f"yt-dlp reported success but wrote no file for {url}")
    # The generic extractor makes a title from the file name and a date from Last-Modified: not facts.
    generic = info.get("extractor_key") == "Generic"
    return FetchedMedia(
        path=files[0],
        title=None if generic else info.get("title"),
        channel=None if generic else info.get("channel") or info.get("uploader"),
        upload_date=None if generic else info.get("upload_date"),
        webpage_url=info.get("webpage_url"),
        extractor=info.get("extractor_key"),
    )


class YtDlpSource(Source):
    """A kind whose recording yt-dlp downloads: the best audio of the page or file at the location."""

    def fetch(
        self, location: str, workdir: Path, limits: FetchLimits, logger: logging.Logger
    ) -> FetchedMedia:
        return fetch_url(location, workdir, limits, logger)
