"""The LanceDB segment index: one row per aligned segment, hybrid (vector + full-text) search.

A hearing write appends the hearing's new rows, tagged with a fresh ``write_id``, and then deletes the rows
it read before appending (two commits of their own, each of a hearing's rows, however large the table:
LanceDB's one-commit replacement, ``merge_insert`` with ``when_not_matched_by_source_delete``, joins the new
rows against the whole table and its cost grew with it). So a hearing is never missing from search; between
the two commits, milliseconds, it has both writes' rows, and search shows each segment once. Write ids are
ordered by when the write began, and nothing ever deletes the newest write of a hearing: a writer deletes
only what it read before its own append, and a write killed between its commits (the hearing doubled) is
repaired by keeping the newest write, by the hearing's next write or by ``SegmentIndex.maintain``. Writers
of the same hearing at once end with one write's rows, the newest.

A write does nothing more (no compaction, no index work). Rows not yet in the indexes are searched by a scan
until ``SegmentIndex.maintain`` (the ``index_maintenance`` job) compacts the table, folds them into the
indexes, retrains the vector index when due and deletes old versions' files.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

import numpy as np
import pyarrow as pa

from polsearch_assets.core.keys import validate_hearing_key
from polsearch_assets.core.sources.youtube import youtube_video_id

TABLE_NAME = "segments"
# Every speaker_name the segments table has held (never fewer): a part of a name is matched against these
# few thousand names, not against millions of rows.
SPEAKERS_TABLE = "segment_speakers"
_SPEAKERS_SCHEMA = pa.schema([pa.field("speaker_name", pa.string(), nullable=False)])
WRITE_ATTEMPTS = 5
_CONTENT_NAMESPACE = uuid.UUID("6f1c7c36-2d0f-4c3e-9a53-6c2f0f7c9a11")  # fixed: content ids never change


class UnknownHearing(LookupError):
    """A search filter named a hearing that has no rows in the index."""


def content_id(hearing: str) -> str:
    """The hearing's deterministic content UUID (same key, same id, on every machine)."""
    return str(uuid.uuid5(_CONTENT_NAMESPACE, validate_hearing_key(hearing)))


def schema(dimension: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("content_id", pa.string(), nullable=False),
            pa.field("segment_index", pa.int32(), nullable=False),
            pa.field("text", pa.string(), nullable=False),
            pa.field("start_time_ms", pa.int32(), nullable=False),
            pa.field("end_time_ms", pa.int32(), nullable=False),
            pa.field(
                "speaker_name", pa.string(), nullable=True
            ),  # the person's name where known, else the label
            pa.field("vector", pa.list_(pa.float32(), dimension), nullable=False),
            pa.field("hearing", pa.string(), nullable=False),
            pa.field("title", pa.string(), nullable=True),
            pa.field("channel", pa.string(), nullable=True),
            pa.field("committee", pa.string(), nullable=True),
            pa.field("published_date", pa.string(), nullable=True),
            pa.field("source_url", pa.string(), nullable=True),
            *ADDED_FIELDS,
        ]
    )


# Columns added after the first release: a table written before them gets them (null) when next written.
ADDED_FIELDS = (
    pa.field("speaker_label", pa.string(), nullable=True),  # the hearing's SPEAKER_N
    pa.field("person_id", pa.string(), nullable=True),  # e.g. a Bioguide ID, where the person has one
    pa.field("embedding_model", pa.string(), nullable=True),  # which model made ``vector``
    pa.field("write_id", pa.string(), nullable=True),  # which write put the row there
)
WRITE_ID = ADDED_FIELDS[-1]


def new_write_id() -> str:
    """A write's id, ordered by when it was made: "w" and nanoseconds, so after the plain uuid4 hex ids of
    earlier releases (and null: rows from before write ids) in ``_write_order``; random digits keep two
    writes of one nanosecond apart. Clocks of writers on several machines must agree within a write."""
    return f"w{time.time_ns():020d}{uuid.uuid4().hex[:11]}"


def _write_order(write_id: str | None) -> tuple[bool, str]:
    return write_id is not None, write_id or ""


# What a row says apart from its vector: equal for a re-run that changed nothing, so nothing is written. Every
# column is a fact except these (derived from the hearing key, compared on its own, about the write): a new
# column is compared too, so adding one can never make a changed row look unchanged.
NOT_ROW_FACTS = ("content_id", "vector", "write_id")
ROW_FACTS = tuple(name for name in schema(1).names if name not in NOT_ROW_FACTS)


# The columns' part of hearing_index's code version: adding, removing or retyping a column makes every
# hearing's index rows stale (the vector's width is the embedder's, in its model identity).
def columns_version(columns: pa.Schema) -> str:
    return hashlib.sha256(";".join(f"{f.name}:{f.type}:{f.nullable}" for f in columns).encode()).hexdigest()[
        :8
    ]


COLUMNS_VERSION = columns_version(schema(1))


# The indexes behind search: BM25 over the text, and a scalar index for every filter search offers (the
# hearing, and each column a speaker filter reads). A speaker is a person's name, id or the hearing label:
# few distinct values per column, so bitmaps.
SEARCH_INDEXES: tuple[tuple[str, str], ...] = (
    ("text", "FTS"),
    ("hearing", "BTREE"),
    ("speaker_name", "BITMAP"),
    ("speaker_label", "BITMAP"),
    ("person_id", "BITMAP"),
)
SMALL_TABLE_ROWS = 50_000  # a write builds a missing index itself only below this many rows
DEFAULT_CLEANUP_OLDER_THAN = timedelta(hours=1)


def _search_index_configs() -> dict[str, Any]:
    from lancedb.index import FTS, Bitmap, BTree

    kinds = {"FTS": FTS, "BTREE": BTree, "BITMAP": Bitmap}
    return {column: kinds[kind]() for column, kind in SEARCH_INDEXES}


# The vector index and how search reads it, in one place. Chosen by measuring build CPU and recall@10 against
# an exact search at 1M rows, then 5M (BENCHMARKS.md, issue 25 part B, third round). IVF_PQ with LanceDB's
# defaults cost 70 s of CPU at 100k rows; at 1M with the sample below and 48 sub-vectors it cost 84 s (mostly
# training product quantization) and found 27 % of the exact top 10 (72 % re-ranking 5 times the hits).
# IVF_SQ (8-bit scalar quantization: nothing to train beyond the partitions) cost 19 s at 1M and found 96 %
# (100 % re-ranked); IVF_RQ needed 20 times the hits re-ranked to match it. Partitions grow with the table
# (about VECTOR_ROWS_PER_PARTITION rows each, at most VECTOR_MAX_PARTITIONS, so picking them stays cheap and a
# probe reads a few thousand codes); k-means trains on VECTOR_SAMPLE_RATE rows per partition for VECTOR_ITERATIONS iterations, a
# bounded sample whatever the table's size (every row is still assigned and quantized once, the part of the
# build that grows with the rows); search re-ranks VECTOR_REFINE_FACTOR times the hits it needs by their
# exact distance.
VECTOR_ROWS_PER_PARTITION = 4096
VECTOR_MAX_PARTITIONS = 1024
VECTOR_SAMPLE_RATE = 64
VECTOR_ITERATIONS = 20
VECTOR_REFINE_FACTOR = 5

# A full-text query under a prefilter that keeps under this percent of the rows is answered by LanceDB's flat
# search over those rows (its default: 10 %) instead of its pruned top-k search with the filter as a mask. At
# 5M rows the most frequent speaker's 4 % of the rows cost 64 ms of CPU that way against 29 ms pruned, with the
# same hits, while a hearing's few hundred rows stay cheapest flat (BENCHMARKS.md, issue 25 part B, fourth
# round). LanceDB reads it once per process, at its first full-text search: written on import, before any
# search (written, never read: only config.py reads the environment).
FTS_FLAT_SEARCH_PERCENT = "1"
os.environ["LANCE_FLAT_SEARCH_PERCENT_THRESHOLD"] = FTS_FLAT_SEARCH_PERCENT


def vector_index_config(rows: int) -> Any:
    """The IVF_SQ index for a table of ``rows`` (the constants above)."""
    from lancedb.index import IvfSq

    return IvfSq(
        distance_type="cosine",
        num_partitions=max(1, min(VECTOR_MAX_PARTITIONS, rows // VECTOR_ROWS_PER_PARTITION)),
        sample_rate=VECTOR_SAMPLE_RATE,
        max_iterations=VECTOR_ITERATIONS,
    )


@dataclass(frozen=True)
class IndexHealth:
    """The table as maintenance sees it."""

    rows: int
    live_bytes: int  # data and index files of the current version
    fragments: int
    small_fragments: int  # fragments compaction would merge
    unindexed_rows: int  # rows written since the indexes were last brought up to date (searched by a scan)
    vector_segments: int | None  # delta segments of the vector index; None: not built yet
    missing: tuple[str, ...]  # search indexes not built yet

    def maintenance_due(
        self, unindexed_rows: int, small_fragments: int, vector_index_min_rows: int
    ) -> list[str]:
        """Why maintenance should run now (empty: it need not)."""
        reasons = []
        if self.unindexed_rows >= unindexed_rows:
            reasons.append(f"{self.unindexed_rows} rows not in the indexes yet")
        if self.small_fragments >= small_fragments:
            reasons.append(f"{self.small_fragments} small fragments")
        if self.missing:
            reasons.append(f"missing indexes on {', '.join(self.missing)}")
        if self.vector_segments is None and self.rows >= vector_index_min_rows:
            reasons.append(f"{self.rows} rows and no vector index")
        return reasons


@dataclass(frozen=True)
class MaintenanceReport:
    before: IndexHealth | None
    after: IndexHealth | None
    built: tuple[str, ...]  # indexes built from scratch
    retrained: bool  # the vector index was retrained (too many delta segments)
    seconds: float
    repaired: tuple[str, ...] = ()  # hearings left with two writes' rows (a killed write): the older deleted


@dataclass(frozen=True)
class NamedSpeaker:
    """Who a hearing speaker label is, where the voiceprint library knows."""

    person: str
    person_id: str | None = None


@dataclass(frozen=True)
class HearingInfo:
    key: str
    title: str | None
    channel: str | None
    committee: str | None
    published_date: str | None
    source_url: str | None


def build_rows(
    hearing: HearingInfo,
    segments: Sequence[dict[str, Any]],
    vectors: np.ndarray,
    names: Mapping[str, NamedSpeaker] | None = None,
    embedding_model: str | None = None,
) -> pa.Table:
    """Arrow rows for one hearing's aligned segments (the JSON contract) and their text vectors; a speaker
    in ``names`` is shown by the person's name (``speaker_label`` keeps the hearing's ``SPEAKER_N``)."""
    names = names or {}
    if len(segments) != len(vectors):
        raise ValueError(f"{len(segments)} segments but {len(vectors)} vectors")
    dimension = vectors.shape[1]
    count = len(segments)
    columns = {
        "content_id": [content_id(hearing.key)] * count,
        "segment_index": [s["index"] for s in segments],
        "text": [s["text"] for s in segments],
        "start_time_ms": [s["start_ms"] for s in segments],
        "end_time_ms": [s["end_ms"] for s in segments],
        "speaker_name": [
            names[s["speaker"]].person if s.get("speaker") in names else s.get("speaker") for s in segments
        ],
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.astype(np.float32).ravel()), dimension),
        "hearing": [hearing.key] * count,
        "title": [hearing.title] * count,
        "channel": [hearing.channel] * count,
        "committee": [hearing.committee] * count,
        "published_date": [hearing.published_date] * count,
        "source_url": [hearing.source_url] * count,
        "speaker_label": [s.get("speaker") for s in segments],
        "person_id": [names[s["speaker"]].person_id if s.get("speaker") in names else None for s in segments],
        "embedding_model": [embedding_model] * count,
        "write_id": [None] * count,  # set by replace_hearing
    }
    return pa.Table.from_pydict(columns, schema=schema(dimension))


def moment_url(source_url: str | None, start_ms: int) -> str | None:
    """A link to the moment: YouTube's ``&t=SECONDSs``, a media fragment ``#t=`` otherwise."""
    if not source_url:
        return None
    seconds = start_ms // 1000
    video = youtube_video_id(source_url)
    if video:
        return f"https://www.youtube.com/watch?{urlencode({'v': video, 't': f'{seconds}s'})}"
    if source_url.startswith(("http://", "https://", "file://")):
        return f"{source_url.split('#')[0]}#t={seconds}"
    return f"file://{source_url}#t={seconds}"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _of_hearing(hearing: str) -> str:
    """The filter selecting one hearing's rows."""
    return f"hearing = {_quote(hearing)}"


def _of_writes(hearing: str, write_ids: Iterable[str | None]) -> str:
    """The filter selecting the hearing's rows written by ``write_ids`` (None: rows from before write ids)."""
    ids = set(write_ids)
    named = sorted(i for i in ids if i is not None)
    terms = (["write_id IS NULL"] if None in ids else []) + (
        [f"write_id IN ({', '.join(_quote(i) for i in named)})"] if named else []
    )
    return f"{_of_hearing(hearing)} AND ({' OR '.join(terms)})"


_T = TypeVar("_T")


def _commit_conflict(error: Exception) -> bool:
    """Lance's optimistic commit lost to a concurrent writer: the same operation may simply be retried."""
    return "commit conflict" in str(error).lower()


def _pause(attempt: int) -> None:
    time.sleep(random.uniform(0.05, 0.2) * 2**attempt)  # jittered, so racing writers stop colliding


def _committed(commit: Callable[[], _T], table: Any) -> _T:
    """Run ``commit`` (changes to ``table``) and return what it returns; again, on the latest version, after a
    commit conflict (another writer committed first)."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            return commit()
        except (RuntimeError, OSError) as error:
            if not _commit_conflict(error) or attempt == WRITE_ATTEMPTS - 1:
                raise
            _pause(attempt)
            table.checkout_latest()
    raise AssertionError("unreachable: the last attempt returns or raises")


_LABEL_RE = re.compile(r"^SPEAKER_[0-9]+$")


def _like_pattern(value: str) -> str:
    """A SQL LIKE pattern matching ``value`` anywhere; its own ``%``, ``_`` and ``\\`` match literally."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return _quote(f"%{escaped}%")


def speaker_filter(speaker: str, known_names: Iterable[str] | None = None) -> str:
    """Rows of a speaker: the person's exact name or id, the hearing label, or a case-insensitive part of
    the name ("Cantwell" finds "Sen. Maria Cantwell" in every hearing). Values are quoted and escaped.

    ``known_names``: every ``speaker_name`` the index holds (a superset will do). With them a part of a name
    becomes the list of whole names containing it, which the bitmap index answers; without them, a LIKE
    that reads every row."""
    value = speaker.strip()
    exact = _quote(value)
    found = f"speaker_name = {exact} OR person_id = {exact} OR speaker_label = {exact}"
    if _LABEL_RE.match(value):  # SPEAKER_1 is one label, not also SPEAKER_10 ... SPEAKER_14
        return f"({found})"
    if known_names is None:
        return f"({found} OR lower(speaker_name) LIKE {_like_pattern(value.lower())} ESCAPE '\\')"
    part = value.lower()
    names = sorted({name for name in known_names if part in name.lower()} - {value})
    if names:
        found = f"speaker_name IN ({', '.join(_quote(n) for n in names)}) OR {found}"
    return f"({found})"


def _same_rows(old: list[dict[str, Any]], rows: pa.Table) -> bool:
    """Whether the stored rows ``old`` (sorted by segment) already say what ``rows`` says."""
    if len(old) != rows.num_rows or "embedding_model" not in (old[0] if old else {}):
        return False
    new = sorted(rows.to_pylist(), key=lambda r: r["segment_index"])
    return all(
        [a.get(f) for f in ROW_FACTS] == [b[f] for f in ROW_FACTS]
        and np.array_equal(
            np.asarray(a["vector"], dtype=np.float32), np.asarray(b["vector"], dtype=np.float32)
        )
        for a, b in zip(old, new, strict=True)
    )


def reusable_vectors(rows: list[dict[str, Any]], embedding_model: str) -> dict[tuple[int, str], np.ndarray]:
    """A hearing's stored text vectors made by ``embedding_model``, by (segment index, text): a re-run
    whose text did not change (new speaker names) reuses them instead of embedding again."""
    return {
        (r["segment_index"], r["text"]): np.asarray(r["vector"], dtype=np.float32)
        for r in rows
        if r.get("embedding_model") == embedding_model
    }


class SegmentIndex:
    def __init__(
        self,
        uri: str,
        dimension: int | None = None,  # needed only to create the table
        vector_index_min_rows: int = 50_000,
        max_vector_index_segments: int = 16,
        storage_options: dict[str, str] | None = None,  # object-store settings for s3:// URIs
    ):
        import lancedb

        self.uri = uri
        self.dimension = dimension
        self.vector_index_min_rows = vector_index_min_rows
        self.max_vector_index_segments = max_vector_index_segments
        self._db = lancedb.connect(uri, storage_options=storage_options)

    def _table(self, create: bool = False) -> Any:
        try:
            table = self._db.open_table(TABLE_NAME)
        except ValueError:  # no such table yet: nothing indexed
            if not create:
                return None
            if self.dimension is None:
                raise ValueError("creating the segments table needs the embedding dimension") from None
            return self._db.create_table(TABLE_NAME, schema=schema(self.dimension), exist_ok=True)
        if create and (missing := [f for f in ADDED_FIELDS if f.name not in table.schema.names]):
            table.add_columns(missing)  # a table written by an earlier release: new columns start empty
        return table

    def replace_hearing(
        self, hearing: str, rows: pa.Table, current: list[dict[str, Any]] | None = None
    ) -> bool:
        """Make ``rows`` the hearing's rows: append them, then delete the rows ``current`` holds; nothing else
        (``maintain`` indexes and compacts).

        False, and nothing written, when the hearing already has exactly these rows (a names update
        that changed nothing for this hearing); ``current``: its rows as the caller just read them
        (``rows(hearing)``), so they are not read twice. Correct under concurrent writers of the same
        hearing: the hearing ends with the rows of one of them, the one that began last (module docstring)."""
        validate_hearing_key(hearing)
        if rows.num_rows and set(rows.column("hearing").to_pylist()) != {hearing}:
            raise ValueError(f"rows for hearing {hearing} contain other hearings")
        current = self.rows(hearing) if current is None else current
        if _same_rows(current, rows):
            return False
        table = self._table(create=True)
        # The names go in before the rows, so the list always holds every name the rows have.
        self._record_speakers(rows, fresh=table.count_rows() == 0)
        write_id = pa.array([new_write_id()] * rows.num_rows, pa.string())
        if rows.num_rows:
            tagged = rows.set_column(rows.schema.get_field_index(WRITE_ID.name), WRITE_ID, write_id)
            _committed(lambda: table.add(tagged), table)
        # Only what was read before the append: a concurrent writer's newer rows are never deleted here.
        if read := {row.get(WRITE_ID.name) for row in current}:
            _committed(lambda: table.delete(_of_writes(hearing, read)), table)
        self._keep_newest_write(table, hearing)  # a concurrent writer appended beside this write
        self._create_missing_indexes(table, only_if_small=True)
        return True

    def _keep_newest_write(self, table: Any, hearing: str) -> None:
        """Delete every write of the hearing but the newest (a concurrent or killed write's rows)."""
        table.checkout_latest()
        found = table.search().where(_of_hearing(hearing)).select([WRITE_ID.name]).limit(None).to_arrow()
        writes = set(found.column(WRITE_ID.name).to_pylist())
        if len(writes) > 1:
            older = writes - {max(writes, key=_write_order)}
            _committed(lambda: table.delete(_of_writes(hearing, older)), table)

    def _keep_newest_writes(self, table: Any) -> list[str]:
        """Every hearing with more than one write keeps its newest (maintenance); returns those hearings."""
        pairs = (
            table.search()
            .select(["hearing", WRITE_ID.name])
            .limit(None)
            .to_arrow()
            .group_by(["hearing", WRITE_ID.name])
            .aggregate([])
        )
        writes: dict[str, int] = {}
        for hearing in pairs.column("hearing").to_pylist():
            writes[hearing] = writes.get(hearing, 0) + 1
        doubled = sorted(hearing for hearing, count in writes.items() if count > 1)
        for hearing in doubled:
            self._keep_newest_write(table, hearing)
        return doubled

    def delete_hearing(self, hearing: str) -> None:
        """Remove every row of the hearing, in one commit."""
        table = self._table()
        if table is not None:
            table.delete(_of_hearing(validate_hearing_key(hearing)))

    def _speakers(self) -> Any:
        try:
            return self._db.open_table(SPEAKERS_TABLE)
        except ValueError:
            return None

    def known_speaker_names(self) -> set[str] | None:
        """Every speaker_name the index has held; None for an index from before they were kept (maintenance
        collects them)."""
        table = self._speakers()
        return None if table is None else set(table.to_arrow().column("speaker_name").to_pylist())

    def _record_speakers(self, rows: pa.Table, *, fresh: bool) -> None:
        """Add the names of ``rows`` that ``SPEAKERS_TABLE`` lacks (no commit when it has them all)."""
        names = {name for name in rows.column("speaker_name").to_pylist() if name}
        table = self._speakers()
        if not names or (table is None and not fresh):  # an older index: maintenance collects every name
            return
        if table is None:
            table = self._db.create_table(SPEAKERS_TABLE, schema=_SPEAKERS_SCHEMA, exist_ok=True)

        def add_new() -> None:
            if new := sorted(names - set(table.to_arrow().column("speaker_name").to_pylist())):
                (
                    table.merge_insert("speaker_name")  # a name another writer just added is not added twice
                    .when_not_matched_insert_all()
                    .execute(pa.table({"speaker_name": new}, schema=_SPEAKERS_SCHEMA))
                )

        _committed(add_new, table)

    def _collect_speakers(self, table: Any) -> None:
        """Create ``SPEAKERS_TABLE`` from every row (an index from before it existed)."""
        names = table.search().select(["speaker_name"]).limit(None).to_arrow().column("speaker_name")
        self._db.create_table(
            SPEAKERS_TABLE,
            pa.table({"speaker_name": sorted({n for n in names.to_pylist() if n})}, schema=_SPEAKERS_SCHEMA),
            schema=_SPEAKERS_SCHEMA,
            exist_ok=True,
        )

    # -- index maintenance: off the write path (defs/maintenance/index.py runs it on a sensor and a schedule) --

    def _create_missing_indexes(self, table: Any, *, only_if_small: bool) -> list[str]:
        """Build the search indexes the table lacks (``SEARCH_INDEXES``); returns their columns.

        A write builds them only while the table is small (its first rows: search needs the full-text index
        at once, and then each costs milliseconds); on a large table a missing one (an index added by a newer
        release) is built by maintenance, and until then its filter scans."""
        existing = {index.columns[0] for index in table.list_indices()}
        missing = [column for column, _ in SEARCH_INDEXES if column not in existing]
        if not missing or (only_if_small and table.count_rows() > SMALL_TABLE_ROWS):
            return []
        configs = _search_index_configs()
        for column in missing:
            table.create_index(column, config=configs[column])
        return missing

    def health(self) -> IndexHealth | None:
        """What maintenance looks at, read from the table's manifest and index metadata (milliseconds at any
        size); None when nothing is indexed yet."""
        table = self._table()
        if table is None:
            return None
        stats = table.stats()
        indexed = {index.columns[0]: index.name for index in table.list_indices()}
        text = table.index_stats(indexed["text"]) if "text" in indexed else None
        vector = table.index_stats(indexed["vector"]) if "vector" in indexed else None
        return IndexHealth(
            rows=stats["num_rows"],
            live_bytes=stats["total_bytes"],
            fragments=stats["fragment_stats"]["num_fragments"],
            small_fragments=stats["fragment_stats"]["num_small_fragments"],
            unindexed_rows=text.num_unindexed_rows if text else stats["num_rows"],
            vector_segments=vector.num_indices if vector else None,
            missing=tuple(c for c, _ in SEARCH_INDEXES if c not in indexed)
            + (() if self._speakers() is not None else (SPEAKERS_TABLE,)),
        )

    def maintain(
        self, cleanup_older_than: timedelta = DEFAULT_CLEANUP_OLDER_THAN, retrain_vector_index: bool = False
    ) -> MaintenanceReport:
        """Repair, compact, index and clean the table; what a hearing write leaves for later.

        A hearing a killed write left with two writes' rows keeps the newest (one scan of two columns).
        ``optimize()`` compacts small fragments (and those with many deleted rows), folds unindexed rows
        into every index (a delta segment for the vector index, no retraining) and deletes the files of
        versions older than ``cleanup_older_than`` (readers older than that lose their version: keep it
        above the longest search or write). Since each vector delta segment is
        searched separately, the vector index is retrained once it has more than
        ``max_vector_index_segments`` (or when ``retrain_vector_index``: after the table grew a lot, its
        partitions are too large). Then missing search indexes are built, and the vector index
        (``vector_index_config``) once the table has ``vector_index_min_rows``. Safe beside hearing writes: a commit conflict retries."""
        started = time.perf_counter()
        before = self.health()
        if before is None:
            return MaintenanceReport(None, None, (), False, 0.0)
        table = self._table()
        repaired = tuple(self._keep_newest_writes(table))

        def compact_and_index() -> tuple[list[str], bool]:
            # Compaction first, so the indexes built below need no remapping.
            table.optimize(cleanup_older_than=cleanup_older_than)
            built = self._create_missing_indexes(table, only_if_small=False)
            if (speakers := self._speakers()) is None:
                self._collect_speakers(table)
                built.append(SPEAKERS_TABLE)
            else:
                speakers.optimize(cleanup_older_than=cleanup_older_than)
            now = self.health()
            assert now is not None
            retrained = now.vector_segments is not None and (
                retrain_vector_index or now.vector_segments > self.max_vector_index_segments
            )
            if retrained or (now.vector_segments is None and now.rows >= self.vector_index_min_rows):
                table.create_index("vector", config=vector_index_config(now.rows))  # trained on today's rows
                built += [] if retrained else ["vector"]
            return built, retrained

        built, retrained = _committed(compact_and_index, table)  # a hearing write committed first: again
        return MaintenanceReport(
            before, self.health(), tuple(built), retrained, time.perf_counter() - started, repaired
        )

    def count(self, hearing: str | None = None) -> int:
        table = self._table()
        if table is None:
            return 0
        return table.count_rows(_of_hearing(hearing) if hearing else None)

    def rows(self, hearing: str) -> list[dict[str, Any]]:
        table = self._table()
        if table is None:
            return []
        found = table.search().where(_of_hearing(hearing)).limit(None).to_list()
        return sorted(found, key=lambda r: r["segment_index"])

    def search(
        self,
        text: str,
        vector: np.ndarray,
        *,
        hearing: str | None = None,
        speaker: str | None = None,
        limit: int = 10,
        max_distance: float = 0.7,
    ) -> list[dict[str, Any]]:
        """Hybrid search: BM25 full-text and cosine vector hits, fused by reciprocal rank.

        Filters run inside the query (prefilter), not on its results. Vector hits
        farther than ``max_distance`` (cosine distance) are not hits at all, so a
        query unrelated to anything said returns nothing.
        """
        from lancedb.rerankers import RRFReranker

        if hearing is not None and not self.count(hearing):
            raise UnknownHearing(f"hearing {hearing!r} has no rows in the index")
        table = self._table()
        if table is None:
            return []
        query = (
            table.search(query_type="hybrid")
            .vector(vector.astype(np.float32))
            .text(text)
            .distance_type("cosine")
            .distance_range(upper_bound=max_distance)
            .refine_factor(VECTOR_REFINE_FACTOR)
            .rerank(RRFReranker(return_score="all"))
        )
        filters = [_of_hearing(hearing)] if hearing else []
        if speaker:
            filters.append(speaker_filter(speaker, self.known_speaker_names()))
        if filters:
            query = query.where(" AND ".join(filters), prefilter=True)
        # A hearing mid-write has two writes' rows: each segment is shown once.
        hits, seen = [], set()
        for hit in query.limit(limit).to_list():
            if (segment := (hit["hearing"], hit["segment_index"])) not in seen:
                seen.add(segment)
                hits.append(hit)
        return hits
