"""A file on this machine (a path, or a ``file://`` URL): key ``file-<12 hex of sha256(content)>``, so the same
recording registered from two paths is one hearing; read where it is."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from urllib.parse import urlparse

from polsearch_assets.core.sources.base import HASH_CHARS, FetchedMedia, FetchLimits, Located, Source

_READ_BLOCK = 1 << 20


def file_content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()[:HASH_CHARS]


class LocalFile(Source):
    local = True

    def resolve(self, text: str) -> Located | None:
        scheme = urlparse(text).scheme.lower()
        if scheme and scheme != "file" and len(scheme) > 1:  # len 1: a Windows drive letter
            return None
        path = Path(text.removeprefix("file://")).expanduser().resolve()
        if path.is_dir():
            raise ValueError(
                f"{path} is a directory, not a recording: give the path of an audio or video file"
            )
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        return Located(f"file-{file_content_hash(path)}", str(path))

    def fetch(
        self, location: str, workdir: Path, limits: FetchLimits, logger: logging.Logger
    ) -> FetchedMedia:
        return FetchedMedia(path=Path(location))  # probing it says what is wrong with it, if anything
