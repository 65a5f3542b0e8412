"""The hearing catalog: what is known about each registered hearing.

One ``hearing.json`` per hearing, stored with its artifacts, so any hearing can
be re-materialized later (from the UI, a sensor or GraphQL) with no run config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

from polsearch_assets.core.artifacts import CATALOG_JSON, ArtifactStore
from polsearch_assets.core.sources.base import ResolvedSource


@dataclass(frozen=True)
class HearingEntry:
    key: str
    source: str  # as given by the user
    source_kind: str  # the source kind's name (core/sources/registry.py)
    location: str  # the URL or absolute path raw_audio reads
    title: str | None = None
    channel: str | None = None
    published_date: str | None = None  # ISO date, YYYY-MM-DD
    committee: str | None = None
    registered_at: str | None = None

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> HearingEntry:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in value.items() if k in known})

    def to_json(self) -> dict[str, Any]:
        # Shallow (every field is a string): ``asdict`` deep-copies, a second per 10,000 hearings listed.
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def with_known(self, **values: str | None) -> HearingEntry:
        """Fill fields that are still empty; never overwrite what a user gave."""
        updates = {k: v for k, v in values.items() if v and not getattr(self, k)}
        return replace(self, **updates) if updates else self


def upload_date_to_iso(value: str | None) -> str | None:
    """yt-dlp's ``20260314`` -> ``2026-03-14``; ISO dates pass through."""
    if not value:
        return None
    for fmt in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    raise ValueError(f"not a date (YYYY-MM-DD or YYYYMMDD): {value!r}")


class HearingCatalog:
    def __init__(self, store: ArtifactStore):
        self._store = store

    def get(self, key: str) -> HearingEntry | None:
        if not self._store.exists(key, CATALOG_JSON):
            return None
        return HearingEntry.from_json(self._store.read_json(key, CATALOG_JSON))

    def get_many(self, keys: Sequence[str]) -> dict[str, HearingEntry]:
        """The entries of those of ``keys`` that have one, read together (``hearings`` lists thousands)."""
        return {
            key: HearingEntry.from_json(value)
            for key, value in self._store.read_json_many(keys, CATALOG_JSON).items()
        }

    def put(self, entry: HearingEntry) -> None:
        self._store.write_json(entry.key, CATALOG_JSON, entry.to_json())

    def register(
        self,
        resolved: ResolvedSource,
        *,
        title: str | None = None,
        channel: str | None = None,
        published_date: str | None = None,
        committee: str | None = None,
    ) -> tuple[HearingEntry, bool]:
        """Record a hearing; returns (entry, created). Registering again only adds new facts, except that a
        local file keyed by its content takes the path it is given now (it may have moved: no other kind can
        give one key two locations)."""
        existing = self.get(resolved.key)
        known = {
            "title": title,
            "channel": channel,
            "published_date": upload_date_to_iso(published_date),
            "committee": committee,
        }
        if existing is not None:
            updated = existing.with_known(**known)
            if resolved.location != existing.location:
                updated = replace(updated, source=resolved.source, location=resolved.location)
            if updated != existing:
                self.put(updated)
            return updated, False
        entry = HearingEntry(
            key=resolved.key,
            source=resolved.source,
            source_kind=resolved.kind,
            location=resolved.location,
            registered_at=datetime.now(UTC).isoformat(timespec="seconds"),
            **known,
        )
        self.put(entry)
        return entry, True
