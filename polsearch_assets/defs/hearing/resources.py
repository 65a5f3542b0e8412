"""The audio stage's resource: fetching and normalizing media (speech detection is an engine, ``engines.py``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from polsearch_assets.config import FromSettings, setting
from polsearch_assets.core.audio import media
from polsearch_assets.core.scratch import scratch_dir
from polsearch_assets.core.sources.base import FetchedMedia, FetchLimits
from polsearch_assets.core.sources.registry import source_kind


@dataclass(frozen=True)
class NormalizedAudio:
    original: media.MediaInfo
    fetched: FetchedMedia  # with what the source says of the recording (nothing, for a local file)


class MediaFetcher(FromSettings, dg.ConfigurableResource):
    """Any source -> 16 kHz mono 16-bit WAV: its kind fetches it (core/sources/), ffmpeg normalizes it."""

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
        self, kind: str, location: str, target: Path, logger: logging.Logger
    ) -> NormalizedAudio:
        """Write the normalized WAV of a source of ``kind`` to ``target``; raises media.MediaError subclasses."""
        limits = FetchLimits(self.socket_timeout_s, self.max_download_bytes, self.check_duration)
        with scratch_dir("polsearch-fetch-") as workdir:
            fetched = source_kind(kind).fetch(location, workdir, limits, logger)
            original = media.probe(fetched.path)
            if original.duration_s:
                self.check_duration(original.duration_s)  # before decoding hours of audio
            media.normalize_to_wav(fetched.path, target)
        return NormalizedAudio(original=original, fetched=fetched)
