"""Searching the index from Python: ``search("bridge inspections", hearing="yt-...")``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from polsearch_assets.backends.profiles import configured_backends
from polsearch_assets.config import Settings
from polsearch_assets.core.index.segments import SegmentIndex, UnknownHearing, moment_url
from polsearch_assets.defs.platform.storage import configured_lance_index

__all__ = ["Hit", "UnknownHearing", "search"]


@dataclass(frozen=True)
class Hit:
    """One search hit. ``speaker`` is the hearing's label (``SPEAKER_N``), as in every contract and export;
    ``speaker_name`` is the person's name where the voiceprint library knows it, else the label."""

    hearing: str
    title: str | None
    speaker: str | None
    speaker_name: str | None
    start_ms: int
    end_ms: int
    text: str
    url: str | None
    score: float
    person_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        # speaker_label: the label under its name before `speaker` meant the label too (kept for old scripts).
        return asdict(self) | {"speaker_label": self.speaker}


def search(
    query: str,
    *,
    hearing: str | None = None,
    speaker: str | None = None,
    limit: int = 10,
    index_uri: str | None = None,
    settings: Settings | None = None,
) -> list[Hit]:
    """Hybrid search over every indexed hearing (or one ``hearing``, or one ``speaker``: a person's name or
    id, a case-insensitive part of the name, or a hearing label), best first.

    ``settings`` default to the environment's (the same index and embedder as the code location).
    Raises UnknownHearing if ``hearing`` has no rows in the index, ValueError for an empty query.
    """
    if not query.strip():
        raise ValueError("the search query is empty")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    settings = settings or Settings.from_env()
    embedder = configured_backends(settings).embedder
    index = (
        SegmentIndex(index_uri, embedder.dimension)
        if index_uri
        else configured_lance_index(settings).open(embedder.dimension)
    )
    rows = index.search(query, embedder.embed([query])[0], hearing=hearing, speaker=speaker, limit=limit)
    return [
        Hit(
            hearing=row["hearing"],
            title=row["title"],
            speaker=row.get("speaker_label"),
            speaker_name=row["speaker_name"],
            start_ms=row["start_time_ms"],
            end_ms=row["end_time_ms"],
            text=row["text"],
            url=moment_url(row["source_url"], row["start_time_ms"]),
            score=round(float(row["_relevance_score"]), 6),
            person_id=row.get("person_id"),
        )
        for row in rows
    ]
