"""Where one hearing's time goes: each step's wall and CPU seconds, and what the process spends before the graph.

    .venv/bin/python bench/bench_step_cpu.py                      # the 10-minute, 6-speaker hearing
    .venv/bin/python bench/bench_step_cpu.py --before main        # the same for a git revision's code, same run

Runs the whole graph in one fresh process (as ``bench_pipeline.py`` does) while a thread samples the process's
CPU time every 50 ms; each step's CPU is the process's CPU between its STEP_START and STEP_SUCCESS events, so
model loads on background threads count in the step they overlap. Also prints which heavy libraries the run
imported. Needs the hearing ``bench_pipeline.py`` builds (bench/out/hearing_10min_6spk.wav).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

STARTED = time.time()
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import OUT, machine, peak_rss_mib, revision_env, use_revision_code  # noqa: E402

use_revision_code()

HEAVY = ("torch", "transformers", "sentence_transformers", "sklearn", "lancedb", "ctranslate2", "onnxruntime")


def _process_cpu_s() -> float:
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(wav: Path) -> dict:
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.time(), _process_cpu_s()))
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    import logging

    import dagster as dg
    from dagster._core.events import DagsterEventType

    imported = time.time()
    from polsearch_assets.defs.hearing.registration import register_hearing
    from polsearch_assets_tests.fixtures.hearing import assets_for, hearing_resources

    logging.getLogger("dagster").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, dg.instance_for_test() as instance:
        resources = hearing_resources(Path(tmp))
        key = register_hearing(instance, resources["artifact_store"], str(wav)).entry.key
        started = time.time()
        result = dg.materialize(
            assets_for(resources), partition_key=key, instance=instance, resources=resources
        )
        ended = time.time()
        assert result.success
        spans, starts = {}, {}
        kinds = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
        for record in instance.all_logs(result.run_id, of_type=kinds):
            if record.dagster_event.event_type == DagsterEventType.STEP_START:
                starts[record.step_key] = record.timestamp
            else:
                spans[record.step_key] = (starts[record.step_key], record.timestamp)
    done.set()

    def cpu_at(moment: float) -> float:
        before = [cpu for at, cpu in samples if at <= moment]
        return before[-1] if before else 0.0

    def phase(start: float, end: float) -> dict:
        return {"wall_s": round(end - start, 2), "cpu_s": round(cpu_at(end) - cpu_at(start), 2)}

    return {
        "before_graph": {
            "imports (dagster)": phase(STARTED, imported),
            "imports (polsearch), resources, registration": phase(imported, started),
        },
        "steps": {name: phase(*span) for name, span in sorted(spans.items(), key=lambda kv: kv[1][0])},
        "graph": phase(started, ended),
        "heavy_modules": [m for m in HEAVY if m in sys.modules],
        "peak_rss_mib": round(peak_rss_mib()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wav", type=Path, default=OUT / "hearing_10min_6spk.wav")
    parser.add_argument("--before", metavar="REV", help="also a git revision's polsearch_assets, same run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.wav)))
        return
    report = {"machine": machine(), "audio": args.wav.name}

    def child(env: dict[str, str] | None = None) -> dict:
        command = [sys.executable, __file__, "--child", "--wav", str(args.wav)]
        return json.loads(subprocess.check_output(command, text=True, env=env).strip().splitlines()[-1])

    report["now"] = child()
    if args.before:
        with tempfile.TemporaryDirectory() as work:
            report["before"] = {"revision": args.before, **child(revision_env(args.before, Path(work)))}
    report["load_at_end"] = os.getloadavg()[0]
    (OUT / f"step_cpu-{args.wav.stem}.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
