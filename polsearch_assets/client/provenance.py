"""A cache of the provenance staleness is decided from: each hearing's latest materialization of an asset, as
the few tags ``staleness.is_stale`` reads, keyed by the event's storage id.

A materialization event never changes, so an entry is never invalidated: when a hearing's latest storage id
is not the cached one, that one event is read and replaces the entry; a hearing with no materialization any
more (wiped, or its partition deleted) is dropped. The cache of an asset holds one entry per hearing (at most
N per asset however often hearings are re-run), encoded compactly: tag names and code versions once per
asset, the JSON deflated and base64'd (about 0.6 MB per asset at 30,000 hearings instead of 4 MB, which
Postgres took a tenth of a second to store and compress again). Plain data, no Dagster: ``defs/hearing/stale.py`` reads the events and stores the text.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson

from polsearch_assets.client.staleness import (
    CODE_VERSION,
    DATA_VERSION,
    INPUT_DATA_VERSION,
    INPUT_EVENT_POINTER,
    Materialization,
)

FORMAT = 2  # 1: the same JSON, not deflated
_PREFIXES = (*INPUT_DATA_VERSION, INPUT_EVENT_POINTER)


def rule_tags(tags: Mapping[str, str]) -> dict[str, str]:
    """The tags ``is_stale`` reads (code and data versions, inputs' data versions and event pointers)."""
    return {
        k: v for k, v in tags.items() if k == CODE_VERSION or k in DATA_VERSION or k.startswith(_PREFIXES)
    }


@dataclass
class AssetProvenance:
    """One asset's cache: hearing -> (storage id, its latest materialization's rule tags and time)."""

    entries: dict[str, tuple[int, Materialization]] = field(default_factory=dict)

    def to_read(self, latest_ids: Mapping[str, int]) -> dict[str, int]:
        """Hearing -> storage id, for the latest events (``latest_ids``, every hearing's) not cached; drops
        the entries of hearings absent from ``latest_ids``."""
        for gone in set(self.entries) - set(latest_ids):
            del self.entries[gone]
        return {
            key: sid
            for key, sid in latest_ids.items()
            if (cached := self.entries.get(key)) is None or cached[0] != sid
        }

    def add(self, key: str, storage_id: int, timestamp_ms: float, tags: Mapping[str, str]) -> None:
        self.entries[key] = (storage_id, Materialization(timestamp_ms, rule_tags(tags)))

    def latest(self) -> dict[str, Materialization]:
        return {key: found for key, (_, found) in self.entries.items()}

    def encode(self) -> str:
        names: dict[str, int] = {}
        codes: dict[str, int] = {}
        rows = {}
        for key, (sid, found) in self.entries.items():
            row: list[int | float | str] = [sid, found.timestamp_ms]
            for tag, value in found.tags.items():
                row.append(names.setdefault(tag, len(names)))
                row.append(codes.setdefault(value, len(codes)) if tag == CODE_VERSION else value)
            rows[key] = row
        # orjson: the same compact JSON as json.dumps(separators=(",", ":")) in a quarter of the time (30,000
        # hearings: 8 caches of ~4 MB per cold fill); json.loads reads it back as fast as orjson does.
        data = orjson.dumps(
            {"format": FORMAT, "tags": list(names), "code_versions": list(codes), "rows": rows}
        )
        return base64.b64encode(zlib.compress(data, 1)).decode("ascii")

    @classmethod
    def decode(cls, text: str | None) -> AssetProvenance:
        """The cache ``encode`` wrote; empty for None, an empty text or another format (read again)."""
        if not text:
            return cls()
        try:
            data = json.loads(zlib.decompress(base64.b64decode(text, validate=True)))
        except (binascii.Error, zlib.error, ValueError):  # format 1's plain JSON, or not a cache
            return cls()
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return cls()
        names, codes = data["tags"], data["code_versions"]
        entries = {}
        for key, row in data["rows"].items():
            tags = {}
            for i in range(2, len(row), 2):
                tag = names[row[i]]
                tags[tag] = codes[row[i + 1]] if tag == CODE_VERSION else row[i + 1]
            entries[key] = (int(row[0]), Materialization(float(row[1]), tags))
        return cls(entries)
