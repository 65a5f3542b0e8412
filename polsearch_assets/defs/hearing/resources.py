"""The audio stage's resource: fetching and normalizing media (speech detection is an engine, ``engines.py``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from polsearch_assets.config import FromSettings, setting
from polsearch_assets.core.audio import media
from polsearch_assets.core.keys import SourceKind
from polsearch_assets.core.scratch import scratch_dir


@dataclass(frozen=True)
class NormalizedAudio:
    original: media.MediaInfo
    fetched: media.FetchedMedia | None  # None for local files


class MediaFetcher(FromSettings, dg.ConfigurableResource):
    """yt-dlp for URLs, ffmpeg for everything: any source -> 16 kHz mono 16-bit WAV."""

    min_duration_s: float = setting("min_duration_s")
    max_duration_s: float = setting("max_duration_s")
    socket_timeout_s: float = setting("socket_timeout_s")
    max_download_mb: float | None = setting("max_download_mb")

    @property
    def max_download_bytes(self) -> int:
        return int(self.max_download_mb * 1e6 if self.max_download_mb else self.max_duration_s * 500_000)

    def check_duration(self, seconds: float) -> None:
        if seconds > self.max_duration_s:
            raise media.PermanentMediaError(
                f"recording is {media.human_duration(seconds)} long, over the maximum of "
                f"{media.human_duration(self.max_duration_s)} "
                "(POLSEARCH_MAX_DURATION_S)"
            )
        if seconds < self.min_duration_s:
            raise media.PermanentMediaError(
                f"recording is {media.human_duration(seconds)} long, under the minimum of "
                f"{media.human_duration(self.min_duration_s)} "
                "(POLSEARCH_MIN_DURATION_S)"
            )

    def fetch_normalized(
        self, kind: SourceKind, location: str, target: Path, logger: logging.Logger
    ) -> NormalizedAudio:
        """Write the normalized WAV of a source to ``target``; raises media.MediaError subclasses."""
        with scratch_dir("polsearch-fetch-") as workdir:
            fetched = None
            if kind is SourceKind.FILE:
                source = Path(location)
            else:
                fetched = media.fetch_url(
                    location,
                    workdir,
                    socket_timeout_s=self.socket_timeout_s,
                    check_duration=self.check_duration,
                    max_bytes=self.max_download_bytes,
                    logger=logger,
                )
                source = fetched.path
            original = media.probe(source)
            if original.duration_s:
                self.check_duration(original.duration_s)  # before decoding hours of audio
            media.normalize_to_wav(source, target)
        return NormalizedAudio(original=original, fetched=fetched)
