"""The LanceDB index for real: scoped atomic replacement, filters inside the query, links to the moment."""

from __future__ import annotations

import multiprocessing
import os
import signal
from datetime import timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from polsearch_assets.core.index.segments import (
    COLUMNS_VERSION,
    NOT_ROW_FACTS,
    ROW_FACTS,
    VECTOR_MAX_PARTITIONS,
    VECTOR_ROWS_PER_PARTITION,
    HearingInfo,
    IndexHealth,
    NamedSpeaker,
    SegmentIndex,
    UnknownHearing,
    _same_rows,
    build_rows,
    columns_version,
    content_id,
    moment_url,
    schema,
    speaker_filter,
    vector_index_config,
)

DIM = 8


def info(key: str) -> HearingInfo:
    return HearingInfo(
        key, f"Title {key}", "House Committee", "Judiciary", "2026-03-14", f"https://example.gov/{key}.mp4"
    )


def segments(n: int, topic: str, speakers: tuple[str, ...] = ("SPEAKER_0", "SPEAKER_1")) -> list[dict]:
    return [
        {
            "index": i,
            "start_ms": i * 1000,
            "end_ms": i * 1000 + 900,
            "text": f"segment {i} on {topic}",
            "speaker": speakers[i % len(speakers)],
        }
        for i in range(n)
    ]


def vectors(n: int, direction: int) -> np.ndarray:
    """Unit vectors near one axis, so each topic has its own region of the space."""
    rng = np.random.default_rng(n + direction)
    base = np.zeros((n, DIM), dtype=np.float32)
    base[:, direction] = 1.0
    out = base + 0.05 * rng.standard_normal((n, DIM)).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def query_vector(direction: int) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    vector[direction] = 1.0
    return vector


@pytest.fixture
def index(tmp_path: Path) -> SegmentIndex:
    return SegmentIndex(str(tmp_path / "lancedb"), DIM)


def test_replacing_a_hearing_never_duplicates_or_touches_others(index: SegmentIndex) -> None:
    index.replace_hearing("h1", build_rows(info("h1"), segments(6, "bridges"), vectors(6, 0)))
    index.replace_hearing("h2", build_rows(info("h2"), segments(4, "budgets"), vectors(4, 1)))
    assert (index.count(), index.count("h1"), index.count("h2")) == (10, 6, 4)
    index.replace_hearing("h1", build_rows(info("h1"), segments(6, "bridges"), vectors(6, 0)))
    assert (index.count("h1"), index.count("h2")) == (6, 4)
    index.replace_hearing(
        "h1", build_rows(info("h1"), segments(3, "tunnels"), vectors(3, 2))
    )  # fewer rows now
    assert (index.count("h1"), index.count("h2")) == (3, 4)
    rows = index.rows("h1")
    assert [r["segment_index"] for r in rows] == [0, 1, 2]
    assert all(r["text"].endswith("tunnels") and r["content_id"] == content_id("h1") for r in rows)
    index.replace_hearing("h1", build_rows(info("h1"), [], np.zeros((0, DIM))))  # a silent re-run
    assert (index.count("h1"), index.count("h2")) == (0, 4)


def test_rows_of_another_hearing_are_refused(index: SegmentIndex) -> None:
    with pytest.raises(ValueError, match="contain other hearings"):
        index.replace_hearing("h1", build_rows(info("h2"), segments(2, "x"), vectors(2, 0)))


def test_hybrid_search_with_filters_in_the_query(index: SegmentIndex) -> None:
    index.replace_hearing("h1", build_rows(info("h1"), segments(6, "bridges"), vectors(6, 0)))
    index.replace_hearing("h2", build_rows(info("h2"), segments(6, "budgets"), vectors(6, 1)))
    top = index.search("budgets", query_vector(1), limit=3)
    assert [hit["hearing"] for hit in top] == ["h2"] * 3
    assert top[0]["_relevance_score"] >= top[-1]["_relevance_score"]
    only_h1 = index.search("budgets", query_vector(1), hearing="h1", limit=10)
    assert only_h1 == []  # neither the words nor the meaning are in h1
    by_speaker = index.search("bridges", query_vector(0), speaker="SPEAKER_1", limit=10)
    assert by_speaker and {h["speaker_name"] for h in by_speaker} == {"SPEAKER_1"}
    assert {h["hearing"] for h in by_speaker} == {"h1"}
    assert index.search("zeppelins", query_vector(3), limit=5) == []  # nothing near, no matching words


def test_unknown_hearing_and_empty_index(index: SegmentIndex) -> None:
    assert index.search("anything", query_vector(0)) == []
    with pytest.raises(UnknownHearing, match="'nope' has no rows"):
        index.search("anything", query_vector(0), hearing="nope")


def test_content_id_is_deterministic() -> None:
    assert content_id("yt-dQw4w9WgXcQ") == content_id("yt-dQw4w9WgXcQ") != content_id("yt-AAAAAAAAAAA")


def test_moment_urls() -> None:
    assert (
        moment_url("https://www.youtube.com/watch?v=dQw4w9WgXcQ", 83_900)
        == "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=83s"
    )
    assert moment_url("/data/hearing.wav", 5000) == "file:///data/hearing.wav#t=5"
    assert moment_url("https://example.gov/a.mp4#x", 61_000) == "https://example.gov/a.mp4#t=61"
    assert moment_url(None, 0) is None


def _unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_maintenance_builds_the_vector_index_and_retrains_it_when_fragmented(tmp_path: Path) -> None:
    dim = 32
    index = SegmentIndex(
        str(tmp_path / "lancedb"), dim, vector_index_min_rows=1000, max_vector_index_segments=2
    )
    rng = np.random.default_rng(0)

    def write_and_maintain(key: str) -> int | None:
        index.replace_hearing(key, build_rows(info(key), segments(500, key), _unit_rows(rng, 500, dim)))
        assert index.health().vector_segments == before  # the write itself leaves the vector index alone
        report = index.maintain()
        assert report.after is not None and report.after.unindexed_rows == 0
        return report.after.vector_segments

    before = None
    before = write_and_maintain("h0")
    assert before is None  # below the row threshold: brute force is fine
    assert set(index.health().missing) == set()  # every search index from the first write
    before = write_and_maintain("h1")
    assert before == 1
    before = write_and_maintain("h2")
    assert before == 2  # optimize() added the new rows as a delta segment, no retraining
    before = write_and_maintain("h3")
    assert before == 1  # past the limit: retrained into one segment
    assert index.maintain(retrain_vector_index=True).retrained
    hits = index.search(
        "segment on h3", np.full(dim, 1 / np.sqrt(dim), dtype=np.float32), hearing="h3", limit=20
    )
    assert len(hits) == 20 and {h["hearing"] for h in hits} == {"h3"}  # the retrained index serves search


def test_the_vector_index_trains_on_a_bounded_sample_whatever_the_table_size() -> None:
    small, large, archive = (vector_index_config(rows) for rows in (1_000, 1_000_000, 20_000_000))
    assert (small.num_partitions, large.num_partitions) == (1, 1_000_000 // VECTOR_ROWS_PER_PARTITION)
    assert archive.num_partitions == VECTOR_MAX_PARTITIONS  # choosing a partition stays cheap at any size
    # k-means trains on partitions x sample rate rows: never more than 65,536, however large the table
    assert max(c.num_partitions * c.sample_rate for c in (small, large, archive)) <= 65_536


def test_search_through_the_vector_index_finds_the_exact_nearest_rows(tmp_path: Path) -> None:
    """The index as search reads it (quantized, then re-ranked) against an exact search: recall@10."""
    dim, rng = 32, np.random.default_rng(5)
    index = SegmentIndex(str(tmp_path / "lancedb"), dim, vector_index_min_rows=1000)
    vectors = {key: _unit_rows(rng, 500, dim) for key in ("h0", "h1", "h2", "h3")}
    for key, rows in vectors.items():
        index.replace_hearing(key, build_rows(info(key), segments(500, key), rows))
    index.maintain()
    table = index._table()
    vector_index = next(i.name for i in table.list_indices() if i.columns == ["vector"])
    assert table.index_stats(vector_index).index_type == "IVF_SQ"
    every = np.concatenate(list(vectors.values()))
    ids = [(key, i) for key in vectors for i in range(500)]
    found = []
    for query in _unit_rows(rng, 20, dim):
        exact = {ids[i] for i in np.argsort(-(every @ query))[:10]}
        hits = index.search("zebra", query, limit=10, max_distance=2.0)  # no text hit: the vector leg alone
        found.append(len(exact & {(h["hearing"], h["segment_index"]) for h in hits}) / 10)
    assert np.mean(found) >= 0.95


def _data_bytes(root: Path) -> dict[str, int]:
    return {f.name: f.stat().st_size for f in (root / "segments.lance" / "data").iterdir()}


def test_a_hearing_write_rewrites_no_other_hearing(tmp_path: Path) -> None:
    """A write appends its hearing's rows (and marks the old ones deleted); compaction is maintenance's job.
    The bytes a write adds are its own rows', however large the table already is."""
    dim = 32
    root = tmp_path / "lancedb"
    index = SegmentIndex(str(root), dim)
    rng = np.random.default_rng(1)
    for n in range(12):
        key = f"h{n}"
        index.replace_hearing(key, build_rows(info(key), segments(200, key), _unit_rows(rng, 200, dim)))
    index.maintain()
    before = _data_bytes(root)
    for key in ("h3", "new"):  # a re-write and a new hearing
        index.replace_hearing(key, build_rows(info(key), segments(200, "x"), _unit_rows(rng, 200, dim)))
    after = _data_bytes(root)
    added = {name: size for name, size in after.items() if name not in before}
    assert set(before) <= set(after) and len(added) == 2
    assert sum(added.values()) < 0.25 * sum(before.values())  # two hearings' rows, not the table's
    assert (index.count("h3"), index.count("new"), index.count()) == (200, 200, 13 * 200)
    assert index.health().unindexed_rows == 400
    hits = index.search("segment on x", np.full(dim, 1 / np.sqrt(dim), dtype=np.float32), hearing="new")
    assert hits and {h["hearing"] for h in hits} == {"new"}  # rows not yet indexed are searched too


def _directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def test_maintenance_compacts_and_cleans_old_versions(tmp_path: Path) -> None:
    dim = 32
    root = tmp_path / "lancedb"
    index = SegmentIndex(str(root), dim, vector_index_min_rows=1000)
    rng = np.random.default_rng(2)
    for round_ in range(3):  # every hearing written three times: two thirds of the rows written are dead
        for n in range(10):
            key = f"h{n}"
            rows = build_rows(info(key), segments(150, f"{key} {round_}"), _unit_rows(rng, 150, dim))
            index.replace_hearing(key, rows)
    table = index._table()
    assert _directory_bytes(root / "segments.lance") > 2.5 * table.stats()["total_bytes"]
    report = index.maintain(cleanup_older_than=timedelta(0))
    assert report.before is not None and report.after is not None
    assert report.after.fragments < report.before.fragments and report.after.small_fragments <= 1
    assert report.after.missing == () and report.after.vector_segments == 1 and "vector" in report.built
    table.checkout_latest()
    assert _directory_bytes(root / "segments.lance") <= 2 * table.stats()["total_bytes"]
    assert index.count() == 1500 and index.count("h4") == 150
    assert {r["text"] for r in index.rows("h4")} == {f"segment {i} on h4 2" for i in range(150)}


def test_maintenance_due_by_size() -> None:
    health = IndexHealth(
        rows=60_000, live_bytes=1, fragments=9, small_fragments=8, unindexed_rows=100, vector_segments=None,
        missing=("person_id",),
    )  # fmt: skip
    assert health.maintenance_due(
        unindexed_rows=20_000, small_fragments=64, vector_index_min_rows=50_000
    ) == [
        "missing indexes on person_id",
        "60000 rows and no vector index",
    ]
    busy = IndexHealth(
        rows=60_000, live_bytes=1, fragments=90, small_fragments=80, unindexed_rows=30_000, vector_segments=3,
        missing=(),
    )  # fmt: skip
    assert busy.maintenance_due(unindexed_rows=20_000, small_fragments=64, vector_index_min_rows=50_000) == [
        "30000 rows not in the indexes yet",
        "80 small fragments",
    ]
    assert busy.maintenance_due(unindexed_rows=50_000, small_fragments=100, vector_index_min_rows=1) == []


def _write_at_the_barrier(uri: str, key: str, barrier: Barrier) -> None:
    index = SegmentIndex(uri, DIM)
    rows = build_rows(info(key), segments(20, "bridges"), vectors(20, 0))
    barrier.wait()
    index.replace_hearing(key, rows)


def test_concurrent_first_writes_of_a_hearing_leave_it_indexed_once(tmp_path: Path) -> None:
    """Writers in separate processes index the same new hearings at the same moment (a re-submission
    racing the first run): every hearing ends with its rows once, never twice."""
    uri = str(tmp_path / "lancedb")
    SegmentIndex(uri, DIM).replace_hearing(
        "other", build_rows(info("other"), segments(2, "x"), vectors(2, 1))
    )
    context = multiprocessing.get_context("spawn")
    for round_ in range(3):
        key = f"race{round_}"
        barrier = context.Barrier(3)
        writers = [context.Process(target=_write_at_the_barrier, args=(uri, key, barrier)) for _ in range(3)]
        for writer in writers:
            writer.start()
        for writer in writers:
            # Generous: on a busy 2-core machine three fresh interpreters importing LanceDB took ~60 s a
            # round, and 120 s once ran out (exit code None); a writer that never ends still fails here.
            writer.join(600)
        assert [w.exitcode for w in writers] == [0, 0, 0], "a writer failed or did not finish in 600 s"
        index = SegmentIndex(uri, DIM)
        assert index.count(key) == 20, f"round {round_}: {index.count(key)} rows"
        assert sorted(r["segment_index"] for r in index.rows(key)) == list(range(20))
    assert SegmentIndex(uri, DIM).count("other") == 2


def test_a_write_removes_duplicates_an_earlier_race_left(index: SegmentIndex) -> None:
    rows = build_rows(info("h1"), segments(5, "bridges"), vectors(5, 0))
    index.replace_hearing("h1", rows)
    index._table().add(
        index._table().search().where("hearing = 'h1'").limit(None).to_arrow()
    )  # the old bug's result
    assert index.count("h1") == 10
    index.replace_hearing("h1", rows)
    assert index.count("h1") == 5


def _killed_between_append_and_delete(uri: str, key: str) -> None:
    """A hearing write killed (SIGKILL) after its append committed, before its delete."""
    from lancedb.table import LanceTable

    def killed(*_: object, **__: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    LanceTable.delete = killed  # type: ignore[method-assign]
    SegmentIndex(uri, DIM).replace_hearing(key, build_rows(info(key), segments(6, "tunnels"), vectors(6, 1)))


@pytest.mark.parametrize("repair", ["next write", "maintenance"])
def test_a_write_killed_between_its_commits_leaves_the_hearing_doubled_and_is_repaired(
    tmp_path: Path, repair: str
) -> None:
    """Never missing: the old rows stay until the new ones are in. Search shows each segment once meanwhile,
    and the next write of the hearing, or maintenance, keeps the newest write only."""
    uri = str(tmp_path / "lancedb")
    index = SegmentIndex(uri, DIM)
    index.replace_hearing("h1", build_rows(info("h1"), segments(6, "bridges"), vectors(6, 0)))
    index.replace_hearing("h2", build_rows(info("h2"), segments(4, "ports"), vectors(4, 2)))
    writer = multiprocessing.get_context("spawn").Process(
        target=_killed_between_append_and_delete, args=(uri, "h1")
    )
    writer.start()
    writer.join(120)
    assert writer.exitcode == -signal.SIGKILL
    assert index.count("h1") == 12  # both writes' rows
    hits = index.search("segment", query_vector(1), hearing="h1", limit=20)
    assert sorted(h["segment_index"] for h in hits) == list(range(6))  # each segment once
    if repair == "next write":
        index.replace_hearing("h1", build_rows(info("h1"), segments(6, "tunnels"), vectors(6, 1)))
    else:
        assert index.maintain().repaired == ("h1",)
    assert {r["text"] for r in index.rows("h1")} == {f"segment {i} on tunnels" for i in range(6)}
    assert (index.count("h1"), index.count("h2")) == (6, 4)
    assert index.maintain().repaired == ()


def _rewrite(uri: str, key: str, times: int) -> None:
    index = SegmentIndex(uri, DIM)
    for n in range(times):
        index.replace_hearing(
            key, build_rows(info(key), segments(5 + n % 2, f"round {n}"), vectors(6, 0)[: 5 + n % 2])
        )


def test_a_reader_never_finds_a_hearing_missing_while_it_is_rewritten(tmp_path: Path) -> None:
    uri = str(tmp_path / "lancedb")
    index = SegmentIndex(uri, DIM)
    index.replace_hearing("h1", build_rows(info("h1"), segments(5, "start"), vectors(5, 0)))
    writer = multiprocessing.get_context("spawn").Process(target=_rewrite, args=(uri, "h1", 30))
    writer.start()
    counts = set()
    while writer.is_alive():
        counts.add(SegmentIndex(uri, DIM).count("h1"))
    writer.join()
    assert writer.exitcode == 0
    assert 0 not in counts and counts <= {5, 6, 10, 11}  # one write's rows, or two while it is replaced
    assert index.count("h1") == 6


def test_a_table_from_before_write_ids_is_migrated_in_place(tmp_path: Path) -> None:
    import lancedb

    uri = str(tmp_path / "lancedb")
    old_schema = schema(DIM).remove(schema(DIM).get_field_index("write_id"))
    old_rows = build_rows(info("h2"), segments(3, "ports"), vectors(3, 1)).drop_columns(["write_id"])
    lancedb.connect(uri).create_table("segments", data=old_rows, schema=old_schema)
    index = SegmentIndex(uri, DIM)
    index.replace_hearing("h1", build_rows(info("h1"), segments(4, "bridges"), vectors(4, 0)))
    index.replace_hearing("h2", build_rows(info("h2"), segments(2, "ports"), vectors(2, 1)))
    assert (index.count("h1"), index.count("h2")) == (4, 2)


def test_a_row_that_differs_in_any_column_is_not_the_same_row() -> None:
    """Every column but the key-derived id, the vector (compared on its own) and the write id decides whether a
    re-run writes: a column added to the schema is compared without anyone listing it."""
    rows = build_rows(info("yt-facts"), segments(2, "bridges"), vectors(2, 0), embedding_model="m")
    stored = sorted(rows.to_pylist(), key=lambda r: r["segment_index"])
    assert _same_rows(stored, rows)
    compared = [name for name in schema(DIM).names if name not in NOT_ROW_FACTS]
    assert list(ROW_FACTS) == compared and set(NOT_ROW_FACTS) == {"content_id", "vector", "write_id"}
    for name in compared:
        changed = [{**stored[0], name: "changed"}, stored[1]]
        assert not _same_rows(changed, rows), name


def test_the_columns_are_part_of_the_index_code_version() -> None:
    widened = pa.schema([*schema(1), pa.field("new_column", pa.string())])
    assert columns_version(widened) != columns_version(schema(1)) == COLUMNS_VERSION


def test_a_hit_says_speaker_for_the_label_and_speaker_name_for_the_person() -> None:
    from polsearch_assets.local.search import Hit

    hit = Hit("yt-x", "T", "SPEAKER_1", "Sen. Maria Cantwell", 0, 900, "text", None, 0.5, "C000127")
    shown = hit.to_json()
    assert (shown["speaker"], shown["speaker_name"], shown["speaker_label"]) == (
        "SPEAKER_1",
        "Sen. Maria Cantwell",
        "SPEAKER_1",
    )


def test_every_search_filter_is_answered_by_a_scalar_index(tmp_path: Path) -> None:
    """The hearing filter and every form of --speaker (a name, a part of it, an id, a label) read bitmaps or
    a B-tree, never every row: the query plan holds a scalar index query and nothing left to recheck."""
    index = SegmentIndex(str(tmp_path / "lancedb"), DIM)
    names = {"SPEAKER_1": NamedSpeaker("Sen. Maria Cantwell", "C000127")}
    index.replace_hearing("h1", build_rows(info("h1"), segments(6, "bridges"), vectors(6, 0), names))
    index.replace_hearing("h2", build_rows(info("h2"), segments(4, "ports"), vectors(4, 1)))
    index.maintain()  # the rows written so far are in the indexes
    known = index.known_speaker_names()
    assert known == {"Sen. Maria Cantwell", "SPEAKER_0", "SPEAKER_1"}
    assert "LIKE" not in speaker_filter("cantwell", known)
    for where in (
        "hearing = 'h1'",
        speaker_filter("cantwell", known),
        speaker_filter("Sen. Maria Cantwell", known),
        speaker_filter("C000127", known),
        speaker_filter("SPEAKER_0", known),
        speaker_filter("nobody", known),
    ):
        plan = index._table().search(query_vector(0)).where(where, prefilter=True).explain_plan()
        assert "ScalarIndexQuery" in plan and "refine_filter=--" in plan, (where, plan)
    hits = index.search("bridges", query_vector(0), speaker="cantwell", limit=10)
    assert hits and {h["person_id"] for h in hits} == {"C000127"}


def test_an_index_from_before_the_speaker_list_searches_parts_of_names_until_maintenance(
    tmp_path: Path,
) -> None:
    import lancedb

    uri = str(tmp_path / "lancedb")
    index = SegmentIndex(uri, DIM)
    names = {"SPEAKER_1": NamedSpeaker("Sen. Maria Cantwell", "C000127")}
    index.replace_hearing("h1", build_rows(info("h1"), segments(6, "bridges"), vectors(6, 0), names))
    lancedb.connect(uri).drop_table("segment_speakers")  # as an earlier release left it
    index.replace_hearing("h2", build_rows(info("h2"), segments(4, "bridges"), vectors(4, 0), names))
    assert index.known_speaker_names() is None  # a write does not start a list that would miss h1's names
    assert {h["hearing"] for h in index.search("bridges", query_vector(0), speaker="cantw", limit=20)} == {
        "h1",
        "h2",
    }  # by LIKE meanwhile
    assert "segment_speakers" in index.health().missing
    assert "segment_speakers" in index.maintain().built
    assert index.known_speaker_names() == {"Sen. Maria Cantwell", "SPEAKER_0"}
    assert {h["hearing"] for h in index.search("bridges", query_vector(0), speaker="cantw", limit=20)} == {
        "h1",
        "h2",
    }


_FLAT_THRESHOLD = "LANCE_FLAT_SEARCH_PERCENT_THRESHOLD"

# One process's searches, printed as JSON: LanceDB reads its flat-search threshold once per process.
_SEARCH_IN_A_PROCESS = """
import json, os, sys
import numpy as np
from polsearch_assets.core.index.segments import SegmentIndex
root, dim, cases, threshold = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
if threshold:  # after the import wrote its own, before LanceDB's first search reads it
    os.environ["LANCE_FLAT_SEARCH_PERCENT_THRESHOLD"] = threshold
index = SegmentIndex(root, dim)
found = []
for text, direction, filters in cases:
    vector = np.zeros(dim, dtype=np.float32)
    vector[direction] = 1.0
    hits = index.search(text, vector, limit=10, **filters)
    found.append([[h[k] for k in ("hearing", "segment_index", "_relevance_score", "_score", "_distance")] for h in hits])
print(json.dumps({"threshold": os.environ.get("LANCE_FLAT_SEARCH_PERCENT_THRESHOLD"), "found": found}))
"""


def _search_in_a_process(root: str, cases: list, threshold: str | None) -> dict:
    import json
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != _FLAT_THRESHOLD}
    done = subprocess.run(
        [sys.executable, "-c", _SEARCH_IN_A_PROCESS, root, str(DIM), json.dumps(cases), threshold or ""],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.splitlines()[-1])


def test_importing_the_index_sets_lances_full_text_flat_search_threshold(tmp_path: Path) -> None:
    assert _search_in_a_process(str(tmp_path / "none"), [], None)["threshold"] == "1"


def test_speaker_filtered_search_finds_what_lancedbs_default_full_text_path_finds(tmp_path: Path) -> None:
    """The same rows in the same order (fused scores, BM25 scores and distances too) with the pruned full-text
    search this module asks for as with LanceDB's default flat search under a selective filter, each in its own
    process: hearings with several named people, a part of a name two people share, ids, labels.

    No two rows tie on their BM25 score (every text has its own length): among tied rows neither of LanceDB's
    paths keeps one order from one process to the next, so there is no order to keep (BENCHMARKS.md, issue 25
    part B, fourth round)."""
    rng = np.random.default_rng(25)
    vocabulary = [f"word{i}" for i in range(40)]
    weights = 1 / np.arange(1, len(vocabulary) + 1)
    weights /= weights.sum()
    people = [NamedSpeaker(f"Sen. {first} {last}", f"{last[0]}{i:06d}") for i, (first, last) in enumerate(
        [("Maria", "Cantwell"), ("Joan", "Cantwell"), ("Ted", "Cruz"), ("Amy", "Klobuchar"), ("Rand", "Paul"),
         ("Susan", "Collins"), ("Tim", "Kaine"), ("Lisa", "Murkowski"), ("Mike", "Lee"), ("Deb", "Fischer")]
    )]  # fmt: skip
    index = SegmentIndex(str(tmp_path / "lancedb"), DIM)
    for h in range(30):
        key = f"h{h:02d}"
        texts = [
            " ".join([*rng.choice(vocabulary, rng.integers(3, 8), p=weights), *["filler"] * (h * 60 + i)])
            for i in range(60)
        ]
        segs = [
            {**s, "text": texts[s["index"]]}
            for s in segments(60, "", tuple(f"SPEAKER_{i}" for i in range(6)))
        ]
        who = rng.choice(len(people), 3, replace=False, p=[0.1, 0.04, *[0.86 / 8] * 8])
        names = {f"SPEAKER_{i}": people[p] for i, p in enumerate(who)}
        index.replace_hearing(key, build_rows(info(key), segs, vectors(60, h % DIM), names))
    index.maintain()
    known, table, rows = index.known_speaker_names(), index._table(), index.count()
    speakers = ["Sen. Maria Cantwell", "cantwell", people[0].person_id, "Sen. Ted Cruz", "SPEAKER_2"]
    share = {s: table.count_rows(speaker_filter(s, known)) / rows for s in speakers}
    assert 0.01 < share["Sen. Maria Cantwell"] < 0.10 and 0.01 < share["cantwell"] < 0.10, (
        share
    )  # paths differ
    hers = table.search().where(f"person_id = '{people[0].person_id}'").select(["hearing"]).limit(1).to_list()
    filters = [
        {},
        *({"speaker": s} for s in speakers),
        {"hearing": "h03"},
        {"hearing": hers[0]["hearing"], "speaker": "cantwell"},
    ]
    cases = [[" ".join(rng.choice(vocabulary, 3, p=weights)), q % DIM, f] for q in range(8) for f in filters]
    lancedb_default = _search_in_a_process(index.uri, cases, "10")
    this_module = _search_in_a_process(index.uri, cases, None)
    assert (lancedb_default["threshold"], this_module["threshold"]) == ("10", "1")
    assert all(this_module["found"]), "a case with no hits compares nothing"
    assert this_module["found"] == lancedb_default["found"]
