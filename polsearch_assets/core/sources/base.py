"""What a source kind is: one kind of place a hearing's recording comes from (a YouTube video, a media URL, a
local file).

A kind recognises the sources it takes and derives their stable hearing key (``resolve``, at registration),
then hands raw_audio the recording as a file (``fetch``). The kinds, by the name the catalog records as
``source_kind``, are in ``registry.py``: a new kind is one module beside this one and one line there.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

HASH_CHARS = 12  # of a sha256 in a key: url-<12 hex>, file-<12 hex>


@dataclass(frozen=True)
class Located:
    """What a kind makes of a source it takes: the hearing's key and where the recording is read from."""

    key: str
    location: str  # what raw_audio reads: the URL, or the absolute file path


@dataclass(frozen=True)
class ResolvedSource:
    """A source as given, classified, with the key it maps to."""

    key: str
    kind: str  # the source kind's name in the registry, recorded in the catalog as ``source_kind``
    source: str  # as the user gave it
    location: str


@dataclass(frozen=True)
class FetchLimits:
    """What a fetch may take: a slow server, a stream that never ends and a recording out of range stop it."""

    socket_timeout_s: float
    max_bytes: int
    check_duration: Callable[[float], None]  # raises PermanentMediaError outside the allowed durations


@dataclass(frozen=True)
class FetchedMedia:
    """The recording as a file, with what its source says about it (nothing, for a local file)."""

    path: Path
    title: str | None = None
    channel: str | None = None
    upload_date: str | None = None  # YYYYMMDD as yt-dlp gives it
    webpage_url: str | None = None
    extractor: str | None = None


class Source(ABC):
    """One source kind. Stateless: the registry holds one instance of each."""

    local: ClassVar[bool] = False  # read from this machine's disk: a watched feed may never point to one

    @abstractmethod
    def resolve(self, text: str) -> Located | None:
        """The key and location of ``text`` (stripped, non-empty) when it is a source of this kind, else None.
        Raises ValueError or FileNotFoundError when it is of this kind but cannot be a hearing."""

    @abstractmethod
    def fetch(
        self, location: str, workdir: Path, limits: FetchLimits, logger: logging.Logger
    ) -> FetchedMedia:
        """The recording at ``location`` as a file (downloaded into ``workdir`` when it must be); raises
        ``core.audio.media.MediaError`` subclasses, transient or permanent."""
