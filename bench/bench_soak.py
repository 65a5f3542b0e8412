"""Soak: a live ``dagster dev`` under duplicate submissions, terminations and a daemon kill.

    .venv/bin/python bench/bench_soak.py                 # 20 hearings, 4 terminations, one daemon kill
    .venv/bin/python bench/bench_soak.py --hearings 6    # a quicker look

Each hearing is a different 20-45 s excerpt of the sample hearing, served by a local HTTP
server, and submitted twice through the client (``DagsterApi.submit``) at random moments, so
second submissions land while the first run is queued, running or done. Meanwhile runs are
terminated at random (GraphQL ``terminateRun``) and, partway, the daemon is killed with
SIGKILL: ``dagster dev`` goes down with it, taking its code server and the run workers in
flight, and is started again on the same DAGSTER_HOME, as an operator would.

Afterwards (every run finished) it checks what the issue asks: every hearing fully indexed
exactly once or failed with its cause; no run left STARTED (or queued, starting, canceling);
no duplicate index rows; no two runs of one hearing running at the same time; no scratch or
temp files left. Then every failed hearing is retried once (``polsearch retry``'s call) and
the same checks run again. Results: bench/out/soak.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import OUT, SAMPLE, machine  # noqa: E402
from polsearch_assets.client import DagsterApi  # noqa: E402
from polsearch_assets.core.artifacts import read_aligned_segments  # noqa: E402
from polsearch_assets.core.index.segments import SegmentIndex  # noqa: E402
from polsearch_assets.core.scratch import abandoned  # noqa: E402
from polsearch_assets.core.sources.registry import resolve_source  # noqa: E402
from polsearch_assets.defs.platform.artifacts import LocalArtifactStore  # noqa: E402
from polsearch_assets_tests.fixtures.media import serve_media  # noqa: E402
from polsearch_assets_tests.fixtures.processes import dagster_dev  # noqa: E402

TERMINATE = """mutation Terminate($runId: String!) {
  terminateRun(runId: $runId) { __typename ... on PythonError { message } }
}"""
ACTIVE = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}


def excerpts(root: Path, count: int, rng: random.Random) -> dict[str, Path]:
    files = {}
    for i in range(count):
        start, length = rng.uniform(0, 50), rng.uniform(20, 45)
        path = root / f"hearing{i:02d}.wav"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-ss", f"{start:.2f}", "-t", f"{length:.2f}",
             "-i", str(SAMPLE), str(path)],
            check=True,
        )  # fmt: skip
        files[path.name] = path
    return files


def daemon_pid(home: Path) -> int:
    """The ``dagster-daemon`` process whose DAGSTER_HOME is ``home`` (other deployments may run beside it)."""
    wanted = f"DAGSTER_HOME={home}".encode()
    for proc in Path("/proc").iterdir():
        try:
            if b"dagster._daemon" in (proc / "cmdline").read_bytes() and wanted in (
                proc / "environ"
            ).read_bytes().split(b"\0"):
                return int(proc.name)
        except (OSError, ValueError):
            continue
    raise RuntimeError(f"no dagster-daemon for {home}")


def runs_of(api: DagsterApi, key: str) -> list:
    return [api.run(r.run_id) for r in api.runs_of(key, limit=50)]


def check(api: DagsterApi, keys: list[str], store: LocalArtifactStore, index: SegmentIndex) -> dict:
    """The end state: indexed exactly once or failed with a cause, per hearing; leftovers anywhere."""
    indexed, failed_with_cause, failed_without_cause, duplicate_rows, overlapping, active = 0, 0, [], 0, [], 0
    statuses: dict[str, int] = {}
    for key in keys:
        runs = runs_of(api, key)
        for run in runs:
            statuses[run.status] = statuses.get(run.status, 0) + 1
        active += sum(r.status in ACTIVE for r in runs)
        spans = sorted((r.started, r.ended) for r in runs if r.started)
        overlapping += [key] * sum(
            1 for (_, end_a), (start_b, _) in itertools.pairwise(spans) if end_a and start_b < end_a
        )
        state = api.status(key)
        rows = index.rows(key)
        duplicate_rows += len(rows) - len({r["segment_index"] for r in rows})
        if state.last_run and state.last_run.status == "SUCCESS":
            expected = len(read_aligned_segments(store, key))
            indexed += len(rows) == expected == len({r["segment_index"] for r in rows})
        elif state.error:
            failed_with_cause += 1
        else:
            failed_without_cause.append(key)
    tmp = Path(tempfile.gettempdir())  # shared with other processes: only what a dead process left counts
    scratch = [p.name for prefix in ("polsearch-fetch-", "polsearch-upload-", "polsearch-download-")
               for p in abandoned(tmp, prefix)]  # fmt: skip
    hidden_temps = [str(p) for p in Path(store.root).rglob(".*.tmp")]
    return {
        "hearings": len(keys),
        "indexed_exactly_once": indexed,
        "failed_with_cause": failed_with_cause,
        "failed_without_cause": failed_without_cause,
        "runs_by_status": statuses,
        "runs_still_active": active,
        "duplicate_index_rows": duplicate_rows,
        "overlapping_runs_of_one_hearing": overlapping,
        "stray_scratch_dirs": scratch,
        "stray_artifact_temps": hidden_temps,
    }


def wait_idle(api: DagsterApi, keys: list[str], timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if not any(r.status in ACTIVE for key in keys for r in api.runs_of(key, limit=50)):
            return time.monotonic() - started
        time.sleep(3)
    raise RuntimeError(f"runs still active after {timeout_s:g} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hearings", type=int, default=20)
    parser.add_argument("--terminations", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="soak-"))
    home = root / "dagster_home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLSEARCH_", "DAGSTER_"))}
    env |= {"POLSEARCH_HOME": str(root), "POLSEARCH_UPLOADS_INTERVAL_S": "3600"}
    store = LocalArtifactStore(root=str(root / "artifacts"))
    files = excerpts(root, args.hearings, rng)
    report: dict = {"machine": machine(), "args": vars(args)}
    began = time.monotonic()
    with serve_media(files) as media:
        urls = [media.url(name) for name in files]
        keys = [resolve_source(url).key for url in urls]
        # (second, action, argument): two submissions per hearing, terminations, one daemon kill
        plan = [(rng.uniform(0, 40), "submit", url) for url in urls]
        plan += [(t + rng.uniform(0, 90), "submit", url) for t, _, url in list(plan)]
        plan += [(rng.uniform(20, 150), "terminate", None) for _ in range(args.terminations)]
        plan.append((rng.uniform(70, 110), "kill_daemon", None))
        plan.sort(key=lambda step: step[0])
        counts = {"submissions": 0, "already_running": 0, "terminated": 0, "daemon_kills": 0, "restarts": 0}
        pending = list(plan)
        clock = time.monotonic()
        while pending:
            with dagster_dev(home, env) as url:
                api = DagsterApi(url=url)
                while pending:
                    at, action, argument = pending[0]
                    time.sleep(max(0.0, at - (time.monotonic() - clock)))
                    pending.pop(0)
                    if action == "submit":
                        submission = api.submit(argument)
                        counts["submissions"] += 1
                        counts["already_running"] += submission.already_running
                    elif action == "terminate":
                        running = [
                            r for key in keys for r in api.runs_of(key, limit=5) if r.status == "STARTED"
                        ]
                        if running:
                            victim = rng.choice(running)
                            api.graphql(TERMINATE, {"runId": victim.run_id}, idempotent=False)
                            counts["terminated"] += 1
                    else:
                        os.kill(daemon_pid(home), signal.SIGKILL)
                        counts["daemon_kills"] += 1
                        time.sleep(5)  # dagster dev notices and goes down with its code server and runs
                        break
                if pending:
                    counts["restarts"] += 1
                    continue
                report["counts"] = counts
                report["drain_s"] = round(wait_idle(api, keys, timeout_s=1800), 1)
                index = SegmentIndex(str(root / "lancedb"))
                report["after_faults"] = check(api, keys, store, index)
                failed = [k for k in keys if (s := api.status(k)).last_run and s.last_run.status != "SUCCESS"]
                for key in failed:
                    api.retry(key)
                report["retried"] = len(failed)
                wait_idle(api, keys, timeout_s=1800)
                report["after_one_retry_each"] = check(api, keys, store, index)
    report["wall_s"] = round(time.monotonic() - began, 1)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "soak.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
