"""Artifact stores as Dagster resources; the local directory is the embedded default.

The protocol, the artifact names and their typed read/write are in ``core.artifacts``. Every
local write is atomic (temp name, then rename), so a crashed step never leaves a half-written
artifact that looks valid.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from polsearch_assets.core.artifacts import ArtifactInfo, ArtifactStore, validate_artifact_name
from polsearch_assets.core.keys import validate_hearing_key
from polsearch_assets.core.scratch import temp_beside


class ArtifactStoreResource(dg.ConfigurableResource, ArtifactStore):
    """The artifact store as a Dagster resource; assets depend on this interface only."""


class LocalArtifactStore(ArtifactStoreResource):
    """Artifacts under ``<root>/<hearing>/<name>`` on the local file system."""

    root: str = Field(
        description="Directory holding one sub-directory of artifacts per hearing (POLSEARCH_ARTIFACT_ROOT).",
    )

    def _path(self, hearing: str, name: str, root: Path | None = None) -> Path:
        """``root``: the root already resolved (a listing of many hearings resolves it once)."""
        root = root or Path(self.root).resolve()
        return root / validate_hearing_key(hearing) / validate_artifact_name(name)

    def uri(self, hearing: str, name: str) -> str:
        return self._path(hearing, name).as_uri()

    def read_json_many(self, hearings: Sequence[str], name: str) -> dict[str, Any]:
        """One read per hearing, in this thread (local reads are not round trips), the root resolved once."""
        root, found = Path(self.root).resolve(), {}
        for hearing in hearings:
            try:
                found[hearing] = json.loads(self._path(hearing, name, root).read_bytes())
            except FileNotFoundError:
                continue
        return found

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

    def delete_hearing(self, hearing: str) -> None:
        shutil.rmtree(Path(self.root).resolve() / validate_hearing_key(hearing), ignore_errors=True)

    @contextmanager
    def writer(self, hearing: str, name: str) -> Iterator[Path]:
        final = self._path(hearing, name)
        final.parent.mkdir(parents=True, exist_ok=True)
        # Same directory, so the rename is atomic; the dot prefix keeps it out of listings.
        temp = temp_beside(final)
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
