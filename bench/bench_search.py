"""Benchmark hybrid search latency over a large index, built through the real ingestion path.

    .venv/bin/python bench/bench_search.py --rows 100000

200 hearings of 500 segments each are written with SegmentIndex.replace_hearing (the
hearing_index asset's write path, with its index maintenance). Segment texts are 2-3
sentences drawn from the generator's hearing vocabulary; their vectors are real
all-MiniLM-L6-v2 embeddings of 5,000 distinct texts, reused with small noise so each row
differs. Queries are timed without the query embedding (reported separately).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from polsearch_assets.backends.profiles import configured_backends
from polsearch_assets.config import Settings
from polsearch_assets.core.index.segments import HearingInfo, SegmentIndex, build_rows
from polsearch_assets_tests.fixtures.synthetic import SENTENCES

OUT = Path(__file__).resolve().parent / "out"
QUERIES = [
    "inspection report for the river crossing",
    "funding formula for small states",
    "shortage of steel and contractors",
    "sensors that monitor corrosion",
    "rural communities left behind",
    "who postponed the public hearing",
    "culverts in my district",
    "bridges built fifty years ago",
]


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--per-hearing", type=int, default=500)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(0)
    embedder = configured_backends(Settings()).embedder

    texts = list({" ".join(rng.sample(SENTENCES, rng.randint(2, 3))) for _ in range(20_000)})[:5000]
    started = time.perf_counter()
    text_vectors = embedder.embed(texts)
    embed_s = time.perf_counter() - started

    noise = np.random.default_rng(0)
    report: dict = {
        "rows": args.rows,
        "distinct_texts": len(texts),
        "embed_texts_per_s": len(texts) / embed_s,
    }
    with tempfile.TemporaryDirectory() as tmp:
        index = SegmentIndex(str(Path(tmp) / "lancedb"), embedder.dimension)
        hearings = args.rows // args.per_hearing
        write_s = []
        for h in range(hearings):
            key = f"bench-{h:04d}"
            picks = [rng.randrange(len(texts)) for _ in range(args.per_hearing)]
            vectors = text_vectors[picks] + noise.normal(
                0, 0.02, (args.per_hearing, embedder.dimension)
            ).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            segments = [
                {
                    "index": i,
                    "start_ms": i * 20_000,
                    "end_ms": i * 20_000 + 18_000,
                    "text": texts[p],
                    "speaker": f"SPEAKER_{i % 8}",
                }
                for i, p in enumerate(picks)
            ]
            info = HearingInfo(
                key,
                f"Hearing {h}",
                "Committee channel",
                "Transportation",
                "2026-01-01",
                f"https://www.youtube.com/watch?v={h:011d}",
            )
            started = time.perf_counter()
            index.replace_hearing(key, build_rows(info, segments, vectors))
            write_s.append(time.perf_counter() - started)
        report["index_rows"] = index.count()
        report["write_s_per_hearing"] = {
            "p50": float(np.median(write_s)),
            "max": max(write_s),
            "total": sum(write_s),
        }
        indexes = index._table().list_indices()
        report["indexes"] = sorted(f"{i.index_type}:{i.columns[0]}" for i in indexes)

        query_vectors = {q: embedder.embed([q])[0] for q in QUERIES}
        started = time.perf_counter()
        embedder.embed(QUERIES)
        report["query_embedding_ms"] = (time.perf_counter() - started) * 1000 / len(QUERIES)
        for label, filters in {
            "hybrid": {},
            "hybrid + hearing filter": {"hearing": "bench-0042"},
            "hybrid + speaker filter": {"speaker": "SPEAKER_3"},
        }.items():
            latencies = []
            for i in range(args.queries + 5):
                query = QUERIES[i % len(QUERIES)]
                started = time.perf_counter()
                hits = index.search(query, query_vectors[query], limit=10, **filters)
                if i >= 5:  # warm-up excluded
                    latencies.append(time.perf_counter() - started)
                assert hits, f"no hits for {query!r} {filters}"
            report[label] = {"p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95)}
            print(label, report[label], flush=True)
    OUT.mkdir(exist_ok=True)
    (OUT / "search.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
