"""Searching the index from Python: ``search("bridge inspections", hearing="yt-...")``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from polsearch_assets.resources.backends import configured_backends
from polsearch_assets.resources.storage import configured_lance_index
from polsearch_assets.search_index import SegmentIndex, UnknownHearing, moment_url

__all__ = ["Hit", "UnknownHearing", "search"]


@dataclass(frozen=True)
class Hit:
    hearing: str
    title: str | None
    speaker: str | None
    start_ms: int
    end_ms: int
    text: str
    url: str | None
    score: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def search(
    query: str,
    *,
    hearing: str | None = None,
    speaker: str | None = None,
    limit: int = 10,
    index_uri: str | None = None,
) -> list[Hit]:
    """Hybrid search over every indexed hearing (or one ``hearing``, or one ``speaker``), best first.

    Raises UnknownHearing if ``hearing`` has no rows in the index, ValueError for an empty query.
    """
    if not query.strip():
        raise ValueError("the search query is empty")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    embedder = configured_backends().embedder
    index = (
        SegmentIndex(index_uri, embedder.dimension)
        if index_uri
        else configured_lance_index().open(embedder.dimension)
    )
    rows = index.search(query, embedder.embed([query])[0], hearing=hearing, speaker=speaker, limit=limit)
    return [
        Hit(
            hearing=row["hearing"],
            title=row["title"],
            speaker=row["speaker_name"],
            start_ms=row["start_time_ms"],
            end_ms=row["end_time_ms"],
            text=row["text"],
            url=moment_url(row["source_url"], row["start_time_ms"]),
            score=round(float(row["_relevance_score"]), 6),
        )
        for row in rows
    ]
