"""What a hearing pays for going through a deployment instead of ``polsearch ingest``.

    .venv/bin/python bench/bench_api.py              # 5 measured runs per path, after one warm-up each

Three paths run the same hearing (the bundled 98-second sample) with the same models:

* ``ingest``: ``polsearch ingest FILE`` in a fresh process, in-process against a SQLite instance
  (what a laptop user runs);
* ``deployment``: ``polsearch``'s client submits to a real ``dagster dev`` (webserver + daemon,
  the repository's ``dagster.yaml``: queued run coordinator) over GraphQL; the daemon launches
  the run in a new process with the default ``in_process`` executor;
* ``deployment-multiprocess``: the same with ``POLSEARCH_EXECUTOR=multiprocess`` (one process
  per step);
* ``deployment-dequeue-5s``: ``deployment`` with the run queue daemon at Dagster's default
  interval (5 s) instead of ours (1 s).

For each run, from its run events: submit → queued → launched by the daemon → run started in
its new process → first step running; the steps' own time (the sum of their durations), and
the whole wall time, to the run's end (deployment) or the command's exit (ingest);
overhead = wall time - step time. Results go to bench/out/api.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import OUT, SAMPLE, machine  # noqa: E402
from polsearch_assets.client import DagsterApi  # noqa: E402
from polsearch_assets.local.instance import LOCAL_DAGSTER_YAML  # noqa: E402
from polsearch_assets_tests.fixtures.processes import dagster_dev  # noqa: E402

BIN = Path(sys.executable).parent


EVENTS = """query Events($runId: ID!, $cursor: String) {
  logsForRun(runId: $runId, afterCursor: $cursor, limit: 1000) {
    ... on EventConnection { cursor hasMore events { __typename ... on MessageEvent { timestamp } } }
  }
}"""
# Run-level events, by their GraphQL type and their Dagster event type (what the in-process run logs).
MILESTONES = {
    "RunEnqueuedEvent": "enqueued",
    "RunStartingEvent": "launched",  # the daemon took it off the queue and called the run launcher
    "RunStartEvent": "run_start",
    "ExecutionStepStartEvent": "step_start",
    "ExecutionStepSuccessEvent": "step_end",
    "RunSuccessEvent": "run_end",
    "PIPELINE_ENQUEUED": "enqueued",
    "PIPELINE_STARTING": "launched",
    "PIPELINE_START": "run_start",
    "STEP_START": "step_start",
    "STEP_SUCCESS": "step_end",
    "PIPELINE_SUCCESS": "run_end",
}


def phases(began: float, ended: float, events: list[tuple[str, float]], steps_s: float) -> dict[str, float]:
    """Where a run's wall time went, from ``began`` (submit, or the command's start) to ``ended``.

    ``events`` are (type, timestamp) pairs; only the first run start / step start and the last
    step end count. A phase whose events the path does not have (ingest has no queue) is left out.
    """
    first: dict[str, float] = {}
    last_step_end = began
    for kind, at in events:
        name = MILESTONES.get(kind)
        if name == "step_end":
            last_step_end = max(last_step_end, at)
        elif name and name not in first:
            first[name] = at
    marks = [("began", began)] + [
        (name, first[name]) for name in ("enqueued", "launched", "run_start", "step_start") if name in first
    ]
    labels = {
        "enqueued": "submit_to_queued_s",
        "launched": "queue_wait_s",
        "run_start": "process_and_load_s",  # a new process: interpreter, imports, definitions
        "step_start": "run_start_to_first_step_s",  # resources and executor
    }
    result = {labels[b[0]]: b[1] - a[1] for a, b in itertools.pairwise(marks)}
    result["to_first_step_s"] = first["step_start"] - began
    result["steps_s"] = steps_s
    result["after_last_step_s"] = ended - last_step_end
    result["wall_s"] = ended - began
    result["overhead_s"] = result["wall_s"] - steps_s
    return result


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLSEARCH_", "DAGSTER_"))}
    return env | {"POLSEARCH_HOME": str(home), **extra}


def _run_events(api: DagsterApi, run_id: str) -> list[tuple[str, float]]:
    found, cursor = [], None
    while True:
        page = api.graphql(EVENTS, {"runId": run_id, "cursor": cursor})["logsForRun"]
        found += [(e["__typename"], int(e["timestamp"]) / 1000) for e in page["events"] if "timestamp" in e]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return found


def _print(path: str, result: dict[str, float]) -> None:
    print(f"{path}: {json.dumps({k: round(v, 2) for k, v in result.items()})}", flush=True)


def measure_deployment(
    runs: int, executor: str, dequeue_interval_s: int | None = None
) -> list[dict[str, float]]:
    """Runs through ``dagster dev`` with the local instance's dagster.yaml, or another run queue interval."""
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        results = []
        instance_yaml = yaml.safe_load(LOCAL_DAGSTER_YAML.read_text())
        if dequeue_interval_s is not None:
            instance_yaml["run_queue"]["dequeue_interval_seconds"] = dequeue_interval_s
        (home / "dagster_home").mkdir()
        (home / "dagster_home" / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml))
        with dagster_dev(home / "dagster_home", _clean_env(home, POLSEARCH_EXECUTOR=executor)) as url:
            api = DagsterApi(url=url)
            for attempt in range(runs + 1):  # the first run warms the code server and the page cache
                submitted_at = time.time()
                submission = api.submit(str(SAMPLE), title="Bridge safety (synthetic sample)")
                run = api.wait(submission.run_id, poll_s=0.5)
                if run.status != "SUCCESS":
                    raise RuntimeError(f"run {run.run_id} {run.status}: {api.run_error(run.run_id)}")
                if attempt:
                    steps = sum(s.end_time - s.start_time for s in run.steps if s.start_time and s.end_time)
                    results.append(phases(submitted_at, run.ended, _run_events(api, run.run_id), steps))
                    _print(
                        f"deployment ({executor}, dequeue {instance_yaml['run_queue']['dequeue_interval_seconds']} s)",
                        results[-1],
                    )
    return results


def measure_ingest(runs: int) -> list[dict[str, float]]:
    import dagster as dg

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = _clean_env(home, DAGSTER_HOME=str(home / "dagster_home"))
        results = []
        for attempt in range(runs + 1):
            started = time.time()
            subprocess.run(
                [
                    str(BIN / "polsearch"),
                    "ingest",
                    str(SAMPLE),
                    "--title",
                    "Bridge safety (synthetic sample)",
                ],
                cwd=REPO,
                env=env,
                check=True,
                capture_output=True,
            )
            ended = time.time()
            if not attempt:
                continue
            instance = dg.DagsterInstance.from_config(str(home / "dagster_home"))
            run_id = instance.get_run_records(limit=1)[0].dagster_run.run_id
            stats = instance.get_run_step_stats(run_id)
            steps = sum(s.end_time - s.start_time for s in stats if s.start_time and s.end_time)
            events = [
                (e.dagster_event.event_type_value, e.timestamp)
                for e in instance.all_logs(run_id)
                if e.dagster_event is not None
            ]
            instance.dispose()
            results.append(phases(started, ended, events, steps))
            _print("ingest", results[-1])
    return results


def _median(results: list[dict[str, float]]) -> dict[str, float]:
    return {k: round(statistics.median(r[k] for r in results), 2) for k in results[0]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="measured runs per path (after one warm-up)")
    args = parser.parse_args()
    measured = {
        "ingest": measure_ingest(args.runs),
        "deployment": measure_deployment(args.runs, "in_process"),
        "deployment-multiprocess": measure_deployment(args.runs, "multiprocess"),
        "deployment-dequeue-5s": measure_deployment(args.runs, "in_process", dequeue_interval_s=5),
    }
    summary = {path: _median(results) for path, results in measured.items()}
    base = summary["ingest"]
    comparison = {
        path: {
            "to_first_step_ratio": round(summary[path]["to_first_step_s"] / base["to_first_step_s"], 2),
            "extra_overhead_s": round(summary[path]["overhead_s"] - base["overhead_s"], 2),
            "wall_ratio": round(summary[path]["wall_s"] / base["wall_s"], 2),
        }
        for path in summary
        if path != "ingest"
    }
    OUT.mkdir(exist_ok=True)
    report = {
        "machine": machine(),
        "input": f"{SAMPLE.name} (98 s)",
        "runs": measured,
        "median": summary,
        "against_ingest": comparison,
    }
    (OUT / "api.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({"median": summary, "against_ingest": comparison}, indent=2))


if __name__ == "__main__":
    main()
