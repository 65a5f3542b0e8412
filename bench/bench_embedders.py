"""Text embedding throughput: the production fastembed backend vs the embedded sentence-transformers one.

    .venv/bin/python bench/bench_embedders.py          # 2,000 segment texts, 3 measured passes per backend

Both embed the same all-MiniLM-L6-v2 weights (fastembed's from an ONNX export of the bundled
model, made first with ``polsearch export-embedder``) on ``POLSEARCH_CPU_THREADS`` (2) threads, in
a fresh process each: load time, texts per second (median of the passes after one warm-up pass),
peak RSS, and the cosine between the two backends' vectors. The texts are segment-sized (15-30 s of
speech, 40-90 words): runs of the sample hearing's utterances. Results go to bench/out/embedders.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import OUT, machine, peak_rss_mib  # noqa: E402


def segment_texts(count: int) -> list[str]:
    utterances = json.loads((REPO / "samples" / "sample_hearing" / "sample_hearing.json").read_text())[
        "utterances"
    ]
    sentences = [u["text"] for u in utterances]
    rng = random.Random(5)
    texts = []
    while len(texts) < count:
        start = rng.randrange(len(sentences))
        texts.append(" ".join(sentences[start : start + rng.randint(2, 4)]))
    return texts


def child(backend: str, model_path: str, count: int, passes: int, vectors_out: str) -> dict[str, float]:
    import numpy as np

    from polsearch_assets.backends.embedding.fastembed import FastEmbedEmbedder
    from polsearch_assets.backends.embedding.sentence_transformers import SentenceTransformerEmbedder

    threads = int(os.environ.get("POLSEARCH_CPU_THREADS", "2"))
    if backend == "fastembed":
        embedder = FastEmbedEmbedder.from_settings(model_path=model_path, threads=threads)
    else:
        import torch

        torch.set_num_threads(threads)
        embedder = SentenceTransformerEmbedder.from_settings()
    texts = segment_texts(count)
    started = time.perf_counter()
    embedder.embed(texts[:1])
    loaded = time.perf_counter() - started
    embedder.embed(texts)  # warm-up pass
    rates = []
    for _ in range(passes):
        started = time.perf_counter()
        vectors = embedder.embed(texts)
        rates.append(len(texts) / (time.perf_counter() - started))
    np.save(vectors_out, vectors)
    return {
        "load_s": loaded,
        "texts_per_s": statistics.median(rates),
        "passes_texts_per_s": rates,
        "peak_rss_mib": peak_rss_mib(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        backend, model_path, vectors_out = args.child
        print(json.dumps(child(backend, model_path, args.texts, args.passes, vectors_out)))
        return

    import numpy as np

    from polsearch_assets.backends.embedding.onnx_export import export_embedder_onnx

    report: dict = {
        "machine": machine(),
        "texts": args.texts,
        "passes": args.passes,
    }
    with tempfile.TemporaryDirectory(prefix="polsearch-bench-") as tmp:
        started = time.perf_counter()
        model = export_embedder_onnx(Path(tmp) / "minilm-onnx")
        report["export_s"] = time.perf_counter() - started
        vectors = {}
        for backend in ("sentence-transformers", "fastembed"):
            out = str(Path(tmp) / f"{backend}.npy")
            result = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--texts",
                    str(args.texts),
                    "--passes",
                    str(args.passes),
                    "--child",
                    backend,
                    str(model),
                    out,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            report[backend] = json.loads(result.stdout.strip().splitlines()[-1])
            vectors[backend] = np.load(out)
            print(backend, json.dumps(report[backend]), flush=True)
    cosines = np.sum(vectors["fastembed"] * vectors["sentence-transformers"], axis=1)
    report["cosine_min"] = float(cosines.min())
    report["cosine_mean"] = float(cosines.mean())
    report["throughput_ratio"] = (
        report["fastembed"]["texts_per_s"] / report["sentence-transformers"]["texts_per_s"]
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "embedders.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
