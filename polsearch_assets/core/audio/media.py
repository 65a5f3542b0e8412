"""Getting a hearing's audio: yt-dlp for URLs, ffprobe/ffmpeg to inspect and normalize.

Errors are classified for the orchestrator: a TransientMediaError is worth
retrying (HTTP 5xx/429, timeouts, dropped connections); a PermanentMediaError is
not (404, private or removed video, not audio, empty or missing file, out of
the allowed duration range).
"""

from __future__ import annotations

import ctypes
import json
import logging
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polsearch_assets.core.net import TRANSIENT_HTTP_STATUSES

TARGET_SAMPLE_RATE = 16_000
TARGET_CHANNELS = 1
_STDERR_TAIL = 600
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


# YouTube's answers to too many requests from one address: they pass, so retry with backoff.
_THROTTLED = ("not a bot", "try again later", "rate-limited")
# A connection cut in the middle of a download: the body ended early, or the peer reset it.
_DROPPED = re.compile(r"\d+ bytes read, \d+ more expected|connection (reset|aborted)", re.IGNORECASE)


class MediaError(Exception):
    """Base class: the message says what went wrong with the source."""


class TransientMediaError(MediaError):
    """Worth retrying later: the source may work then."""


class PermanentMediaError(MediaError):
    """Retrying will not help: the source itself is unusable."""


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float
    sample_rate: int
    channels: int
    codec: str
    container: str


@dataclass(frozen=True)
class FetchedMedia:
    path: Path
    title: str | None
    channel: str | None
    upload_date: str | None  # YYYYMMDD as yt-dlp gives it
    webpage_url: str | None
    extractor: str | None


def human_duration(seconds: float) -> str:
    """``5400`` -> ``1 h 30 min``; ``98.5`` -> ``1 min 38 s``; ``2.25`` -> ``2.2 s``."""
    if seconds >= 3600:
        hours, rest = divmod(round(seconds), 3600)
        return f"{hours} h {rest // 60:02d} min"
    if seconds >= 60:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest:02d} s"
    return f"{seconds:.1f} s"


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _STDERR_TAIL else "..." + text[-_STDERR_TAIL:]


def _die_with_parent() -> None:
    """In the child, before exec: the kernel kills it when the process that started it dies (Linux),
    so a killed run never leaves an ffmpeg decoding hours of audio behind."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def run_tool(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ffmpeg/ffprobe; an interrupt (run terminated, Ctrl-C) kills the child before it propagates."""
    return subprocess.run(cmd, capture_output=True, text=True, check=False, preexec_fn=_die_with_parent)


def probe(path: Path) -> MediaInfo:
    """Duration and first audio stream of a media file; PermanentMediaError if it has no audio."""
    if not path.is_file():
        raise PermanentMediaError(f"file not found: {path}")
    if path.stat().st_size == 0:
        raise PermanentMediaError(f"file is empty: {path}")
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
    proc = run_tool(cmd)
    if proc.returncode != 0:
        raise PermanentMediaError(f"not a media file ffmpeg can read: {path.name}: {_tail(proc.stderr)}")
    data = json.loads(proc.stdout or "{}")
    audio = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio:
        raise PermanentMediaError(f"no audio stream in {path.name}")
    stream, fmt = audio[0], data.get("format", {})
    duration = stream.get("duration") or fmt.get("duration")
    return MediaInfo(
        duration_s=float(duration) if duration not in (None, "N/A") else 0.0,
        sample_rate=int(stream.get("sample_rate") or 0),
        channels=int(stream.get("channels") or 0),
        codec=str(stream.get("codec_name") or "unknown"),
        container=str(fmt.get("format_name") or "unknown"),
    )


def normalize_to_wav(source: Path, target: Path) -> None:
    """Decode any ffmpeg-readable media to 16 kHz mono 16-bit PCM WAV (streamed, bounded memory)."""
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        "-i", str(source),
        "-map", "0:a:0", "-vn", "-sn", "-dn",
        "-ac", str(TARGET_CHANNELS), "-ar", str(TARGET_SAMPLE_RATE), "-c:a", "pcm_s16le",
        "-f", "wav", str(target),
    ]  # fmt: skip
    proc = run_tool(cmd)
    if proc.returncode != 0:
        raise PermanentMediaError(f"ffmpeg could not decode the audio of {source.name}: {_tail(proc.stderr)}")


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


def fetch_url(
    url: str,
    workdir: Path,
    *,
    socket_timeout_s: float,
    check_duration: Callable[[float], None],
    max_bytes: int,
    logger: logging.Logger,
) -> FetchedMedia:
    """Download the best audio of a YouTube video or a direct media URL into ``workdir``.

    Metadata is extracted first so a live stream or a video outside the allowed
    duration range (``check_duration`` raises) fails before anything is downloaded. A
    download whose announced or received size passes ``max_bytes`` stops there (a stream
    that never ends, a recording far over the maximum duration). yt-dlp's own retries are
    off: the orchestrator retries transient errors with backoff and shows each attempt.
    """
    import yt_dlp

    def within_limit(progress: dict[str, Any]) -> None:
        size = max(progress.get("total_bytes") or 0, progress.get("downloaded_bytes") or 0)
        if size > max_bytes:
            raise PermanentMediaError(
                f"the download passed {max_bytes / 1e6:,.0f} MB, the most a recording of the maximum "
                "duration should take (POLSEARCH_MAX_DOWNLOAD_MB, POLSEARCH_MAX_DURATION_S); stopped"
            )

    options = {
        **ydl_options(socket_timeout_s, logger),
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
                check_duration(float(info["duration"]))
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
