"""Artifact storage: one folder of named artifacts per hearing.

The interface is what assets use; the local implementation is the embedded
default. Every write is atomic (temp name, then rename), so a crashed step never
leaves a half-written artifact that looks valid.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from polsearch_assets.hearing_keys import validate_hearing_key

_NAME_PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DEFAULT_ARTIFACT_ROOT = ".polsearch/artifacts"


def validate_artifact_name(name: str) -> str:
    """Artifact names are relative paths of plain parts (``raw_audio.wav``, ``chunks/0001.wav``)."""
    parts = name.split("/")
    if not name or any(not _NAME_PART_RE.match(p) or p.startswith("..") for p in parts):
        raise ValueError(f"invalid artifact name {name!r}")
    return name


@dataclass(frozen=True)
class ArtifactInfo:
    name: str
    size_bytes: int
    modified: datetime  # UTC


class ArtifactStore(dg.ConfigurableResource, ABC):
    """Where a hearing's artifacts live. Assets depend on this interface only."""

    @abstractmethod
    def uri(self, hearing: str, name: str) -> str: ...

    @abstractmethod
    def exists(self, hearing: str, name: str) -> bool: ...

    @abstractmethod
    def size(self, hearing: str, name: str) -> int: ...

    @abstractmethod
    def list_artifacts(self, hearing: str) -> list[ArtifactInfo]:
        """The hearing's artifacts, sorted by name (none if the hearing has no folder)."""

    @abstractmethod
    def delete(self, hearing: str, name: str) -> None:
        """Remove one artifact; removing an absent one is not an error."""

    @abstractmethod
    @contextmanager
    def writer(self, hearing: str, name: str) -> Iterator[Path]:
        """Yield a local path to write; it becomes the artifact only if the block succeeds."""

    @abstractmethod
    @contextmanager
    def reader(self, hearing: str, name: str) -> Iterator[Path]:
        """Yield a local path holding the artifact's bytes (raises FileNotFoundError if absent)."""

    def write_bytes(self, hearing: str, name: str, data: bytes) -> None:
        with self.writer(hearing, name) as path:
            path.write_bytes(data)

    def write_json(self, hearing: str, name: str, value: Any) -> None:
        self.write_bytes(hearing, name, json.dumps(value, indent=1, ensure_ascii=False).encode())

    def read_bytes(self, hearing: str, name: str) -> bytes:
        with self.reader(hearing, name) as path:
            return path.read_bytes()

    def read_json(self, hearing: str, name: str) -> Any:
        return json.loads(self.read_bytes(hearing, name).decode("utf-8"))


class LocalArtifactStore(ArtifactStore):
    """Artifacts under ``<root>/<hearing>/<name>`` on the local file system."""

    root: str = Field(
        default=DEFAULT_ARTIFACT_ROOT,
        description="Directory holding one sub-directory of artifacts per hearing (POLSEARCH_ARTIFACT_ROOT).",
    )

    def _path(self, hearing: str, name: str) -> Path:
        return Path(self.root).resolve() / validate_hearing_key(hearing) / validate_artifact_name(name)

    def uri(self, hearing: str, name: str) -> str:
        return self._path(hearing, name).as_uri()

    def exists(self, hearing: str, name: str) -> bool:
        return self._path(hearing, name).is_file()

    def size(self, hearing: str, name: str) -> int:
        return self._path(hearing, name).stat().st_size

    def list_artifacts(self, hearing: str) -> list[ArtifactInfo]:
        folder = Path(self.root).resolve() / validate_hearing_key(hearing)
        if not folder.is_dir():
            return []
        found = []
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            if path.is_file() and not any(
                part.startswith(".") for part in name.split("/")
            ):  # skip temp files
                stat = path.stat()
                found.append(ArtifactInfo(name, stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC)))
        return found

    def delete(self, hearing: str, name: str) -> None:
        self._path(hearing, name).unlink(missing_ok=True)

    @contextmanager
    def writer(self, hearing: str, name: str) -> Iterator[Path]:
        final = self._path(hearing, name)
        final.parent.mkdir(parents=True, exist_ok=True)
        # Same directory, so the rename is atomic; the dot prefix keeps it out of listings.
        temp = final.with_name(f".{final.name}.{uuid.uuid4().hex}.tmp")
        try:
            yield temp
            if not temp.is_file():
                raise RuntimeError(f"artifact {name!r} of hearing {hearing!r} was not written")
            with temp.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(temp, final)
        finally:
            temp.unlink(missing_ok=True)

    @contextmanager
    def reader(self, hearing: str, name: str) -> Iterator[Path]:
        path = self._path(hearing, name)
        if not path.is_file():
            raise FileNotFoundError(f"hearing {hearing!r} has no artifact {name!r} ({path})")
        yield path
