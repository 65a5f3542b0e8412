"""CTranslate2's CPU backends for the transcriber: which one this CPU gets, and whether another is faster
with the same output (issue 25, item 5).

The transcriber (faster-whisper tiny.en, int8, 2 threads, as the embedded profile runs it) transcribes the
10-minute benchmark hearing's chunks once per variant, each in a fresh process with one environment
variable of CTranslate2's or OpenMP's set: wall and CPU seconds of ``transcribe`` alone (its model
loaded first), and whether every segment, word, time and confidence equals the default's. The chunks are
the embedded VAD's, computed once. Variants are run twice, alternating, so a drift of the machine's speed
shows.

    .venv/bin/python bench/bench_ct2_backend.py        # results in bench/out/ct2_backend.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_pipeline import build_hearing
from bench.common import OUT, cpu_s, machine

VARIANTS = {
    "default": {},
    "CT2_USE_MKL=1": {"CT2_USE_MKL": "1"},
    "CT2_FORCE_CPU_ISA=AVX512": {"CT2_FORCE_CPU_ISA": "AVX512"},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
}


def child(wav: Path, chunks_file: Path) -> dict:
    from polsearch_assets.backends.profiles import configured_backends
    from polsearch_assets.config import Settings

    backends = configured_backends(Settings())
    if not chunks_file.exists():
        chunks_file.write_bytes(pickle.dumps(backends.speech_detector.detect(wav).chunks))
    chunks = pickle.loads(chunks_file.read_bytes())
    transcriber = backends.transcriber
    transcriber._pipeline().result()  # the model loaded before the clock starts
    started, cpu = time.perf_counter(), cpu_s()
    segments = transcriber.transcribe(wav, chunks, logging.getLogger("bench"))
    wall, cpu = time.perf_counter() - started, cpu_s() - cpu
    output = [
        [s.start_ms, s.end_ms, s.text, [[w.word, w.start_ms, w.end_ms, w.confidence] for w in s.words]]
        for s in segments
    ]
    return {"wall_s": wall, "cpu_s": cpu, "output": output}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]))))
        return
    OUT.mkdir(exist_ok=True)
    wav = build_hearing("hearing_10min_6spk", 10, 6, 11)
    chunks_file = OUT / "ct2_backend_chunks.pkl"
    chunks_file.unlink(missing_ok=True)
    report: dict = {"machine": machine(), "audio": wav.name, "runs": {name: [] for name in VARIANTS}}
    reference = None
    for _ in range(args.rounds):
        for name, env in VARIANTS.items():
            command = [sys.executable, __file__, "--child", str(wav), str(chunks_file)]
            output = subprocess.check_output(command, text=True, env={**os.environ, **env})
            run = json.loads(output.strip().splitlines()[-1])
            if reference is None:
                reference = run["output"]
            same = run["output"] == reference
            words = sum(len(s[3]) for s in run["output"])
            report["runs"][name].append(
                {"wall_s": run["wall_s"], "cpu_s": run["cpu_s"], "same_output": same, "words": words}
            )
            print(
                f"{name}: {run['wall_s']:.1f} s, {run['cpu_s']:.1f} CPU s, {words} words, same output: {same}"
            )
    (OUT / "ct2_backend.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
