"""The LanceDB index for real: scoped atomic replacement, filters inside the query, links to the moment."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from polsearch_assets.core.index.segments import (
    COLUMNS_VERSION,
    NOT_ROW_FACTS,
    ROW_FACTS,
    HearingInfo,
    SegmentIndex,
    UnknownHearing,
    _same_rows,
    build_rows,
    columns_version,
    content_id,
    moment_url,
    schema,
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


def test_vector_index_is_built_and_rebuilt_when_fragmented(tmp_path: Path) -> None:
    dim = 32
    index = SegmentIndex(
        str(tmp_path / "lancedb"), dim, vector_index_min_rows=1000, max_vector_index_segments=2
    )
    rng = np.random.default_rng(0)

    def write(key: str) -> None:
        vectors = rng.standard_normal((500, dim)).astype(np.float32)
        index.replace_hearing(
            key,
            build_rows(
                info(key), segments(500, key), vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
            ),
        )

    def vector_segments() -> int | None:
        table = index._table()
        names = {i.columns[0]: i.name for i in table.list_indices()}
        return table.index_stats(names["vector"]).num_indices if "vector" in names else None

    write("h0")
    assert vector_segments() is None  # below the row threshold: brute force is fine
    assert {i.columns[0] for i in index._table().list_indices()} == {"text", "hearing", "speaker_name"}
    write("h1")
    assert vector_segments() == 1
    write("h2")
    assert vector_segments() == 2  # optimize() added the new rows as a delta segment
    write("h3")
    assert vector_segments() == 1  # past the limit: rebuilt into one segment
    hits = index.search(
        "segment on h3", np.full(dim, 1 / np.sqrt(dim), dtype=np.float32), hearing="h3", limit=20
    )
    assert len(hits) == 20 and {h["hearing"] for h in hits} == {
        "h3"
    }  # the rebuilt index serves filtered search


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
            writer.join(120)
        assert [w.exitcode for w in writers] == [0, 0, 0]
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
    from polsearch_assets.search import Hit

    hit = Hit("yt-x", "T", "SPEAKER_1", "Sen. Maria Cantwell", 0, 900, "text", None, 0.5, "C000127")
    shown = hit.to_json()
    assert (shown["speaker"], shown["speaker_name"], shown["speaker_label"]) == (
        "SPEAKER_1",
        "Sen. Maria Cantwell",
        "SPEAKER_1",
    )
