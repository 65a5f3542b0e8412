"""The LanceDB `segments` index as the archive grows: search latency, hearing-write CPU and disk at 100k-5M rows.

    .venv/bin/python bench/bench_index.py --sizes 1000000,5000000 --queries 50 --label third \
        --keep --root /work/scratch/index-third     # a later run with --keep grows the same table
    # an earlier revision's code with this benchmark: run a copy of this file from inside its tree, and
    # check "code" in the result names that tree
    mkdir /tmp/polsearch-before && git archive f4c8528 | tar -x -C /tmp/polsearch-before
    cp bench/bench_index.py /tmp/polsearch-before/bench/bench_index_now.py && cd /tmp/polsearch-before
    PYTHONPATH=$PWD /work/main/.venv/bin/python bench/bench_index_now.py --sizes 100000 --writes 0 --label before
    # searches alone on a kept table (no fill, no index build): before and after a search change
    .venv/bin/python bench/bench_index.py --sizes 5000000 --search-only --keep --root /work/scratch/index-third

``--writes-only`` skips the vector index and the searches (steps 1-2) and fills with the first 200
hearings' rows repeated under new keys: the write path and the disk only, which a shared machine can
afford at 1M rows. One process grows one table through the sizes. At each size:

1. Bulk fill to the size: rows made by the write path's own ``build_rows`` (every column as
   ``hearing_index`` writes it, ``write_id`` included), 500 segments per hearing, appended in
   one-million-row fragments (what compaction leaves) instead of one commit per hearing, which at
   5M rows would take days. Then the indexes are brought up to date in two timed parts
   (``SegmentIndex.maintain``): the full-text and scalar indexes, then the vector index trained on the
   table as it is (the smaller size's is dropped first), with ``--flat-queries`` hybrid searches
   between them, when no vector index exists (a flat scan).
2. Search latency through ``SegmentIndex.search`` (what `polsearch search` runs, query embedding
   excluded): no filter, ``--speaker`` with a full name, a part of a name, a person id and a hearing
   label, and ``--hearing``; warm-up excluded; wall time and the process's CPU per query. Then the
   vector index's recall@10 against an exact scan of every vector, for 50 segment-like query vectors.
3. ``--writes`` hearing writes through ``SegmentIndex.replace_hearing``, the ``hearing_index`` asset's
   call: three new hearings for every re-written one (the re-write names one more speaker). CPU is the
   process's (all threads); fills and index builds run at nice 10, searches and writes at 0. The directory
   on disk is then compared with the live data (``stats().total_bytes``: data and index files of the
   current version), before and after a maintenance run (the benchmark cleans versions older than 0 s,
   since its writes take minutes, not the default hour).

Text and vectors: a pool of 5,000 distinct segment texts (one or two sentences of the synthetic
hearing script and a sentence of 8-14 words drawn, Zipf-weighted, from the MiniLM vocabulary) is
embedded once with the real all-MiniLM-L6-v2; each row takes a pool text and its vector plus
Gaussian noise (sigma 0.02 per dimension), normalised, since 5M real embeddings cannot be computed
on 2 cores. Speakers: 600 named people (name and a Bioguide-like id, 5 per hearing, drawn
Zipf-weighted so some appear in thousands of hearings) and 3 unnamed labels per hearing; 40
committees; dates over 2015-2025. Results: bench/out/index-<label>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.append(str(REPO))  # after PYTHONPATH, so a baseline checkout's polsearch_assets can be measured

from bench.bench_search import QUERIES  # noqa: E402
from bench.common import OUT, machine  # noqa: E402
from polsearch_assets.core.index.segments import (  # noqa: E402
    HearingInfo,
    NamedSpeaker,
    SegmentIndex,
    build_rows,
    content_id,
)

PER_HEARING = 500
WRITTEN = 10**6  # keys of hearings the write phase adds start here, after the bulk ones
POOL = 5000
DIM = 384
FIRST = ["Maria", "John", "Patty", "Ted", "Elizabeth", "Chuck", "Susan", "Mitch", "Amy", "Bernie", "Lisa",
         "Rand", "Tammy", "Josh", "Kirsten", "Ron", "Jeanne", "Tim", "Mazie", "Cory", "Deb", "Mike", "Tina",
         "Jon", "Marsha", "Roger", "Shelley", "Todd", "Cynthia", "Gary"]  # fmt: skip
LAST = ["Cantwell", "Thune", "Murray", "Cruz", "Warren", "Grassley", "Collins", "McConnell", "Klobuchar",
        "Sanders", "Murkowski", "Paul", "Baldwin", "Hawley", "Gillibrand", "Wyden", "Shaheen", "Kaine",
        "Hirono", "Booker", "Fischer", "Lee", "Smith", "Tester", "Blackburn", "Wicker", "Capito", "Young",
        "Lummis", "Peters"]  # fmt: skip
TITLES = ["Sen.", "Rep.", "Chairman", "Ranking Member", "Dr.", "Ms.", "Mr.", "Secretary"]
TOPICS = ["Surface Transportation", "Aviation Safety", "Energy", "Judiciary", "Armed Services", "Appropriations",
          "Homeland Security", "Commerce", "Agriculture", "Finance", "Health", "Education", "Veterans' Affairs",
          "Foreign Relations", "Banking", "Intelligence", "Small Business", "Indian Affairs", "Budget", "Rules"]  # fmt: skip
COMMITTEES = [f"{chamber} Committee on {t}" for chamber in ("Senate", "House") for t in TOPICS]


def people() -> list[NamedSpeaker]:
    rng = np.random.default_rng(1)
    out, seen = [], set()
    while len(out) < 600:
        first, last, title = rng.choice(FIRST), rng.choice(LAST), rng.choice(TITLES)
        name = f"{title} {first} {last}"
        if name not in seen:
            seen.add(name)
            out.append(NamedSpeaker(name, f"{last[0]}{len(out):06d}"))
    return out


def pool_texts() -> list[str]:
    from polsearch_assets.backends.embedding.sentence_transformers import bundled_minilm_model
    from polsearch_assets_tests.fixtures.synthetic import SENTENCES

    vocab = [
        w for w in (bundled_minilm_model() / "vocab.txt").read_text().split() if w.isalpha() and len(w) > 3
    ]  # whole English words, roughly in order of frequency
    weights = 1 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    rng = np.random.default_rng(2)
    texts: set[str] = set()
    while len(texts) < POOL:
        script = " ".join(rng.choice(SENTENCES, rng.integers(1, 3), replace=False))
        words = rng.choice(vocab, rng.integers(8, 15), p=weights)
        texts.add(f"{script} {' '.join(words).capitalize()}.")
    return sorted(texts)


def pool_vectors(texts: list[str]) -> np.ndarray:
    """The pool's real MiniLM vectors, cached under bench/out (both runs of a comparison use the same)."""
    cache = OUT / "index-pool-vectors.npy"
    if cache.exists():
        vectors = np.load(cache)
        if len(vectors) == len(texts):
            return vectors
    from polsearch_assets.backends.profiles import configured_backends
    from polsearch_assets.config import Settings

    vectors = configured_backends(Settings()).embedder.embed(texts).astype(np.float32)
    OUT.mkdir(exist_ok=True)
    np.save(cache, vectors)
    return vectors


class Hearings:
    """Deterministic hearing n: its info, segments, speaker names and row vectors."""

    def __init__(self, texts: list[str], vectors: np.ndarray):
        self.texts, self.vectors, self.people = texts, vectors, people()
        weights = 1 / np.arange(1, len(self.people) + 1) ** 0.8
        self.person_weights = weights / weights.sum()

    def key(self, n: int) -> str:
        return f"bench-{n:06d}"

    def rows(self, n: int, extra_named: int = 0) -> pa.Table:
        rng = np.random.default_rng(n)
        picks = rng.integers(0, len(self.texts), PER_HEARING)
        noisy = self.vectors[picks] + rng.standard_normal((PER_HEARING, DIM), dtype=np.float32) * 0.02
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        who = rng.choice(len(self.people), 5 + extra_named, replace=False, p=self.person_weights)
        names = {f"SPEAKER_{i}": self.people[p] for i, p in enumerate(who)}
        labels = rng.integers(0, 8, PER_HEARING)
        segments = [
            {"index": i, "start_ms": i * 20_000, "end_ms": i * 20_000 + 18_000, "text": self.texts[p],
             "speaker": f"SPEAKER_{s}"}
            for i, (p, s) in enumerate(zip(picks, labels, strict=True))
        ]  # fmt: skip
        day = date(2015, 1, 1) + timedelta(days=int(rng.integers(0, 3650)))
        committee = COMMITTEES[n % len(COMMITTEES)]
        info = HearingInfo(
            self.key(n), f"{committee}: hearing {n}", committee.split(" Committee")[0], committee,
            day.isoformat(), f"https://www.youtube.com/watch?v=b{n:010d}",
        )  # fmt: skip
        return build_rows(info, segments, noisy, names, "all-MiniLM-L6-v2")


def bulk_fill(index: SegmentIndex, hearings: Hearings, start: int, stop: int, reuse: bool = False) -> None:
    """Hearings start..stop-1 appended in one commit, in fragments of up to 1M rows. ``reuse``: hearing n
    gets the rows of hearing n % 200 under its own key (content id, hearing, write id): the same bytes per
    row at a fraction of the CPU, for the write and disk measurements only (texts and vectors repeat)."""
    table = index._table(create=True)
    cache: dict[int, pa.Table] = {}

    def rows(n: int) -> pa.Table:
        if not reuse:
            return hearings.rows(n)
        if n % 200 not in cache:
            cache[n % 200] = hearings.rows(n % 200)
        base = cache[n % 200]
        key = hearings.key(n)
        for name, value in (("hearing", key), ("content_id", content_id(key))):
            base = base.set_column(base.schema.get_field_index(name), name, pa.array([value] * base.num_rows))
        return base

    def batches() -> Iterator[pa.RecordBatch]:
        for n in range(start, stop):
            one = rows(n)
            write_id = pa.array(
                [uuid.uuid4().hex] * one.num_rows, pa.string()
            )  # as replace_hearing tags them
            yield from one.set_column(
                one.schema.get_field_index("write_id"), "write_id", write_id
            ).to_batches()

    schema = table.schema
    table.add(pa.RecordBatchReader.from_batches(schema, (b.cast(schema) for b in batches())))


def niceness(value: int) -> None:
    """Every thread of this process at ``value`` (Linux nice is per thread): the builds yield to the other
    work of a shared machine, the measurements do not. Going back to 0 needs root; elsewhere it stays."""
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(PermissionError, ProcessLookupError):  # not root, or the thread ended
            os.setpriority(os.PRIO_PROCESS, int(task.name), value)


def timed(work: Callable[[], object]) -> dict:
    started, cpu = time.perf_counter(), time.process_time()
    work()
    return {"wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu}


def bring_indexes_up(index: SegmentIndex, vector: bool, query_vectors: dict, flat_queries: int) -> dict:
    """Every index up to date, timed in two parts: compaction with the full-text and scalar indexes, then
    the vector index trained on the table as it is (what ``index_maintenance`` does when the table
    has none, or retrains); between them, hybrid search with no vector index (a flat scan of the vectors)."""
    table = index._table()
    if vector and (trained := [i.name for i in table.list_indices() if i.columns == ["vector"]]):
        table.drop_index(trained[0])  # the smaller size's: trained again on this size's rows
    min_rows, index.vector_index_min_rows = index.vector_index_min_rows, 10**12
    niceness(10)
    result = {"text_and_scalar": timed(index.maintain)}
    index.vector_index_min_rows = min_rows
    if vector:
        niceness(0)
        result["hybrid_flat_scan"] = latency(index, query_vectors, flat_queries)
        niceness(10)
        result["vector"] = timed(index.maintain)
    niceness(0)
    return result


def latency(index: SegmentIndex, query_vectors: dict, queries: int, **filters: str) -> dict:
    found, times, cpu = 0, [], []
    for i in range(queries + 5):
        query = QUERIES[i % len(QUERIES)]
        started, cpu0 = time.perf_counter(), time.process_time()
        hits = index.search(query, query_vectors[query], limit=10, **filters)
        if i >= 5:
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu0)  # all threads: what the load cannot inflate
            found += bool(hits)
    ms, cpu_ms = np.array(times) * 1000, np.array(cpu) * 1000
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "cpu_ms_p50": float(np.percentile(cpu_ms, 50)),
        "cpu_ms_p95": float(np.percentile(cpu_ms, 95)),
        "with_hits": found,
    }


def recall_queries(hearings: Hearings, count: int = 50) -> np.ndarray:
    """Vectors like a segment's (a pool text's vector plus the rows' noise): their exact nearest rows are
    the other copies of that text, which a quantized index must tell apart by the noise alone."""
    rng = np.random.default_rng(7)
    queries = hearings.vectors[rng.integers(0, len(hearings.vectors), count)]
    queries = queries + rng.standard_normal(queries.shape, dtype=np.float32) * 0.02
    return queries / np.linalg.norm(queries, axis=1, keepdims=True)


def vector_recall(index: SegmentIndex, queries: np.ndarray, k: int = 10) -> dict:
    """recall@k of the vector index as search reads it (its refine factor) against an exact search: one
    streamed pass over every vector (rows are normalised, so cosine is the dot product)."""
    import pyarrow.compute as pc

    from polsearch_assets.core.index import segments

    refine = getattr(segments, "VECTOR_REFINE_FACTOR", None)  # None: code from before search re-ranked

    def row_ids(found: pa.Table | pa.RecordBatch) -> np.ndarray:  # hearing n, segment i: n * PER_HEARING + i
        number = pc.cast(pc.utf8_slice_codeunits(found.column("hearing"), len("bench-")), pa.int64())
        return number.to_numpy() * PER_HEARING + found.column("segment_index").to_numpy()

    table = index._table()
    best = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), k), dtype=np.int64)
    scan = table.search().select(["hearing", "segment_index", "vector"]).limit(None)
    for batch in scan.to_batches(200_000):
        vectors = batch.column("vector").flatten().to_numpy().reshape(batch.num_rows, -1)
        scores = np.concatenate([best, queries @ vectors.T], axis=1)
        ids = np.concatenate(
            [best_ids, np.broadcast_to(row_ids(batch), (len(queries), batch.num_rows))], axis=1
        )
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        best, best_ids = np.take_along_axis(scores, top, 1), np.take_along_axis(ids, top, 1)
    found, cpu = [], []
    for query, exact in zip(queries, best_ids, strict=True):
        cpu0 = time.process_time()
        search = table.search(query).distance_type("cosine").select(["hearing", "segment_index"]).limit(k)
        hits = (search.refine_factor(refine) if refine else search).to_arrow()
        cpu.append(time.process_time() - cpu0)
        found.append(len(set(row_ids(hits)) & set(exact)) / k)
    return {"queries": len(queries), f"recall_at_{k}": float(np.mean(found)),
            "vector_only_cpu_ms_p50": float(np.median(cpu)) * 1000}  # fmt: skip


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def disk(index: SegmentIndex, root: Path) -> dict:
    live = index._table().stats()["total_bytes"]
    on_disk = directory_bytes(root / "segments.lance")
    return {"directory_mb": on_disk / 1e6, "live_mb": live / 1e6, "ratio": on_disk / live}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument("--writes", type=int, default=100, help="hearing writes measured at each size")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument(
        "--flat-queries", type=int, default=10, help="hybrid searches measured before the vector index exists"
    )
    parser.add_argument("--label", default="after")
    parser.add_argument("--root", default="", help="where the table is built (default: a temporary folder)")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the table under --root after the run, and grow a table already there instead of starting "
        "empty (its rows are reused; a later run goes on from the largest size filled)",
    )
    parser.add_argument(
        "--writes-only",
        action="store_true",
        help="no vector index and no search: only hearing writes and disk (what a busy machine can afford at 1M)",
    )
    parser.add_argument(
        "--search-only",
        action="store_true",
        help="only the searches, on a table a --keep run left under --root at each size, its indexes as they are "
        "(no fill, no index build, no recall, no writes): before and after a search change on the same table",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.search_only and not (args.keep and args.root):
        parser.error("--search-only reads a kept table: give --keep and --root")
    root = Path(args.root or f"/tmp/bench-index-{args.label}-{os.getpid()}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    report: dict = {
        "label": args.label,
        "code": str(Path(sys.modules["polsearch_assets"].__file__).parent),
        "lance_flat_search_percent_threshold": os.environ.get("LANCE_FLAT_SEARCH_PERCENT_THRESHOLD"),
        "machine_at_start": machine(),
        "sizes": {},
    }
    out = OUT / f"index-{args.label}.json"
    OUT.mkdir(exist_ok=True)
    texts = pool_texts()
    vectors = pool_vectors(texts)
    from polsearch_assets.backends.profiles import configured_backends
    from polsearch_assets.config import Settings

    embedder = configured_backends(Settings()).embedder
    query_vectors = {q: v.astype(np.float32) for q, v in zip(QUERIES, embedder.embed(QUERIES), strict=True)}
    hearings = Hearings(texts, vectors)
    index = SegmentIndex(str(root), DIM)
    if args.writes_only:
        index.vector_index_min_rows = 10**12
        report["writes_only"] = True
    # A kept table: its bulk hearings were filled in order, and the write phase's new hearings take keys after
    # those it added before.
    bulk = f"hearing < {hearings.key(WRITTEN)!r}"
    filled = index._table().count_rows(bulk) if index.count() else 0
    written = WRITTEN + (index.count() - filled) // PER_HEARING
    try:
        for size in sizes:
            result: dict = {}
            started = time.perf_counter()
            niceness(10)
            if args.search_only and filled != size:
                parser.error(f"--search-only: the table under --root has {filled} rows, not {size}")
            if filled < size:
                bulk_fill(index, hearings, filled // PER_HEARING, size // PER_HEARING, reuse=args.writes_only)
            filled = max(filled, size)
            result["fill_s"] = time.perf_counter() - started
            result["indexes"] = (
                {}
                if args.search_only
                else bring_indexes_up(index, not args.writes_only, query_vectors, args.flat_queries)
            )
            niceness(0)
            print(size, "indexed", result["indexes"], flush=True)
            popular = hearings.people[0]
            result["search"] = (
                {}
                if args.writes_only
                else {
                    "hybrid": latency(index, query_vectors, args.queries),
                    "speaker_full_name": latency(index, query_vectors, args.queries, speaker=popular.person),
                    "speaker_part_of_name": latency(
                        index, query_vectors, args.queries, speaker=popular.person.split()[-1].lower()
                    ),
                    "speaker_person_id": latency(
                        index, query_vectors, args.queries, speaker=popular.person_id
                    ),
                    "speaker_label": latency(index, query_vectors, args.queries, speaker="SPEAKER_6"),
                    "hearing": latency(index, query_vectors, args.queries, hearing=hearings.key(3)),
                }
            )
            if not (args.writes_only or args.search_only):
                result["vector_recall"] = vector_recall(index, recall_queries(hearings))
            print(size, "search", json.dumps(result["search"]), result.get("vector_recall"), flush=True)
            result["disk_before_writes"] = disk(index, root)
            cpu, wall = [], []
            for w in range(0 if args.search_only else args.writes):
                if w % 4 == 3:  # a re-write: the same hearing, one more speaker named
                    n = w % (size // PER_HEARING)
                    rows = hearings.rows(n, extra_named=1)
                else:
                    n = written = written + 1
                    rows = hearings.rows(n)
                c0, t0 = time.process_time(), time.perf_counter()
                index.replace_hearing(hearings.key(n), rows)
                cpu.append(time.process_time() - c0)
                wall.append(time.perf_counter() - t0)
            if cpu:
                result["writes"] = {
                    "count": len(cpu),
                    "cpu_s_p50": float(np.median(cpu)),
                    "cpu_s_mean": float(np.mean(cpu)),
                    "cpu_s_max": float(np.max(cpu)),
                    "wall_s_p50": float(np.median(wall)),
                    "wall_s_max": float(np.max(wall)),
                }
                result["disk_after_writes"] = disk(index, root)
                print(size, "writes", result["writes"], result["disk_after_writes"], flush=True)
                c0, t0 = time.process_time(), time.perf_counter()
                report_ = index.maintain(cleanup_older_than=timedelta(0))
                result["maintenance_after_writes"] = {
                    "cpu_s": time.process_time() - c0,
                    "wall_s": time.perf_counter() - t0,
                    "retrained": report_.retrained,
                    "repaired_hearings": len(getattr(report_, "repaired", ())),
                }
                result["disk_after_maintenance"] = disk(index, root)
                if not args.writes_only:
                    result["hybrid_after_maintenance"] = latency(index, query_vectors, args.queries)
                print(size, "maintained", result["maintenance_after_writes"],
                      result["disk_after_maintenance"], flush=True)  # fmt: skip
            result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            report["sizes"][str(size)] = result
            report["machine_at_end"] = machine()
            out.write_text(json.dumps(report, indent=1))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
