"""Soak of the speaker library: random name/forget/ingest/search from 4 processes, with random kill -9.

    .venv/bin/python bench/bench_speaker_soak.py                # 200 operations, 4 workers
    .venv/bin/python bench/bench_speaker_soak.py --ops 40       # a quicker look

The home holds three hearings: the sample hearing (98 s) and two 20-30 s excerpts of it, ingested by the
CLI first. Then 4 worker processes (this script with ``--worker``) draw operations at random and run them
through the same code as the CLI, on the same instance, artifacts and LanceDB: ``name`` (a random speaker of
a random hearing as one of six people), ``forget`` (one of them), ``search`` (by a person or not) and
``ingest`` (an excerpt again: every model runs). Every 10-40 s one worker, at random, is killed with
SIGKILL (its process group: an ingest's ffmpeg too) wherever it is, and started again for its remaining
operations; an operation killed counts as done. A kill picks among workers in the middle of an operation.

Afterwards one ``polsearch speakers refresh`` (what any next command does) and the check: for every hearing,
the names the library gives its speakers now, its ``speaker_names`` (and the library version it read) and its
index rows agree (``polsearch speakers check``). A hearing needing a re-ingest is one whose audio models had
written its diarization and segments but whose names or index rows the refresh could not bring in line.
Results: bench/out/speaker_soak.json.
"""

from __future__ import annotations

import argparse
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
from polsearch_assets.local.instance import LOCAL_DAGSTER_YAML  # noqa: E402

PEOPLE = ("Ann Arbor", "Ben Bishop", "Cy Cole", "Di Dunn", "Ed Eden", "Flo Ford")
KINDS = (("name", 0.40), ("forget", 0.20), ("search", 0.30), ("ingest", 0.10))
BIN = Path(sys.executable).parent


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "polsearch"), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=1800
    )


def _excerpt(path: Path, start: float, length: float) -> Path:
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-ss", f"{start:.2f}", "-t", f"{length:.2f}",
         "-i", str(SAMPLE), str(path)],
        check=True,
    )  # fmt: skip
    return path


def _ingest(source: str) -> str:
    """What `polsearch ingest` does, in this process."""
    from polsearch_assets.local import hearings

    key = hearings.register(source).entry.key
    try:
        done = hearings.materialize(key, emit=lambda _: None)
    except hearings.HearingBusy:
        return "busy"
    return "ok" if done.success else "failed"


def worker(root: Path, ident: int, ops: int, seed: int) -> None:
    """Draw and run ``ops`` operations, one JSON line per operation started and ended in ops-<ident>.jsonl."""
    from polsearch_assets.core.artifacts import read_diarization
    from polsearch_assets.definitions import defs
    from polsearch_assets.local import speakers
    from polsearch_assets.local.search import search

    rng = random.Random(seed)
    sources = json.loads((root / "sources.json").read_text())
    store = defs.resources["artifact_store"]
    log = (root / f"ops-{ident}.jsonl").open("a", buffering=1)
    for _ in range(ops):
        kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        key, source = rng.choice(sorted(sources.items()))
        person = rng.choice(PEOPLE)
        log.write(json.dumps({"event": "start", "kind": kind, "t": time.time()}) + "\n")
        outcome = "ok"
        try:
            if kind == "name":
                labels = read_diarization(store, key, with_frames=False).speakers
                speakers.name(key, rng.choice(labels), person, emit=lambda _: None)
            elif kind == "forget":
                speakers.forget(person, emit=lambda _: None)
            elif kind == "search":
                search("the committee", speaker=person if rng.random() < 0.5 else None, limit=5)
            else:
                outcome = _ingest(source)
        except speakers.SpeakerLibraryError as error:
            outcome = f"refused: {error}"[:200]
        except Exception as error:  # recorded, counted: the soak goes on
            outcome = f"error: {type(error).__name__}: {error}"[:300]
        log.write(json.dumps({"event": "end", "kind": kind, "outcome": outcome, "t": time.time()}) + "\n")


def _started_ops(root: Path, ident: int) -> int:
    path = root / f"ops-{ident}.jsonl"
    if not path.exists():
        return 0
    return sum(json.loads(line)["event"] == "start" for line in path.read_text().splitlines() if line.strip())


def _spawn(root: Path, env: dict[str, str], ident: int, ops: int, seed: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--worker",
            str(ident),
            "--root",
            str(root),
            "--ops",
            str(ops),
            "--seed",
            str(seed),
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=(root / f"worker-{ident}.log").open("a"),
        start_new_session=True,  # its own process group: a kill takes its ffmpeg children too
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", type=int, default=200, help="operations in all")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--kill-every", type=float, nargs=2, default=(10.0, 40.0), metavar=("MIN_S", "MAX_S"))
    parser.add_argument("--seed", type=int, default=26)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--finish", type=Path, metavar="ROOT", help="only the final refresh and check of a soak's ROOT"
    )
    parser.add_argument("--kills", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.root, args.worker, args.ops, args.seed)
        return
    if args.finish is not None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("POLSEARCH_", "DAGSTER_"))}
        env |= {"POLSEARCH_HOME": str(args.finish), "DAGSTER_HOME": str(args.finish / "dagster_home")}
        env |= {"PYTHONPATH": str(REPO)}
        quota = {int(p.stem.split("-")[1]): 0 for p in args.finish.glob("ops-*.jsonl")}
        finish(
            args.finish,
            env,
            quota,
            args.kills,
            {"machine": machine(), "finished_from": str(args.finish)},
            time.monotonic(),
        )
        return

    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="speaker-soak-"))
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").write_text(LOCAL_DAGSTER_YAML.read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLSEARCH_", "DAGSTER_"))}
    env |= {"POLSEARCH_HOME": str(root), "DAGSTER_HOME": str(root / "dagster_home"), "PYTHONPATH": str(REPO)}
    report: dict = {
        "machine": machine(),
        "args": {k: v for k, v in vars(args).items() if k not in ("worker", "root")},
    }
    began = time.monotonic()
    sources = [str(SAMPLE), str(_excerpt(root / "a.wav", 10, 25)), str(_excerpt(root / "b.wav", 55, 30))]
    keys = {}
    for source in sources:
        done = _cli(env, "ingest", source)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        keys[done.stdout.strip().splitlines()[-1]] = source
    (root / "sources.json").write_text(json.dumps(keys))
    report["setup_s"] = round(time.monotonic() - began, 1)

    quota = {i: args.ops // args.workers + (i < args.ops % args.workers) for i in range(args.workers)}
    seeds = {i: args.seed * 100 + i for i in quota}
    running = {i: _spawn(root, env, i, quota[i], seeds[i]) for i in quota}
    spawned_at = dict.fromkeys(quota, 0)  # operations each worker had started when it was (re)started
    kills, soak_began = 0, time.monotonic()
    next_kill = time.monotonic() + rng.uniform(*args.kill_every)
    while running:
        time.sleep(0.2)
        for ident, process in list(running.items()):
            if process.poll() is not None:
                del running[ident]
        # Kill a worker in the middle of an operation (not while it is still starting up).
        busy = [i for i in sorted(running) if _started_ops(root, i) > spawned_at[i]]
        if busy and time.monotonic() >= next_kill:
            ident = rng.choice(busy)
            os.killpg(running[ident].pid, signal.SIGKILL)
            running[ident].wait()
            kills += 1
            left = quota[ident] - _started_ops(root, ident)  # the killed operation counts as done
            if left > 0:
                seeds[ident] += 1000  # not the same draws again
                running[ident] = _spawn(root, env, ident, left, seeds[ident])
                spawned_at[ident] = _started_ops(root, ident)
            else:
                del running[ident]
            next_kill = time.monotonic() + rng.uniform(*args.kill_every)
    report["soak_s"] = round(time.monotonic() - soak_began, 1)

    finish(root, env, quota, kills, report, began)


def finish(
    root: Path, env: dict[str, str], quota: dict[int, int], kills: int, report: dict, began: float
) -> None:
    """Count the operations, then one `speakers refresh` and the check; write the report."""
    starts, ends = {}, {}
    for ident in quota:
        for line in (root / f"ops-{ident}.jsonl").read_text().splitlines():
            entry = json.loads(line)
            table = starts if entry["event"] == "start" else ends
            table[entry["kind"]] = table.get(entry["kind"], 0) + 1
            if entry["event"] == "end":
                outcome = entry["outcome"].split(":")[0]
                report.setdefault("outcomes", {}).setdefault(entry["kind"], {}).setdefault(outcome, 0)
                report["outcomes"][entry["kind"]][outcome] += 1
    killed = sum(starts.values()) - sum(ends.values())  # a kill picks a worker in mid-operation: one each
    report["operations"] = {
        "started": starts,
        "finished": ends,
        "killed_in_flight": killed,
        "kills": kills or killed,
    }

    before = _cli(env, "speakers", "check")
    behind = (
        {line.split(":")[0] for line in before.stdout.strip().splitlines()} if before.returncode else set()
    )
    report["hearings_behind_before_refresh"] = len(behind)  # what the last killed operations left
    refreshed = _cli(env, "speakers", "refresh")
    report["final_refresh"] = refreshed.stdout.strip().splitlines()
    after = _cli(env, "speakers", "check")
    disagreements = after.stdout.strip().splitlines() if after.returncode else []
    report["disagreements"] = len(disagreements)
    report["disagreement_lines"] = disagreements
    report["hearings_needing_reingest"] = len({line.split(":")[0] for line in disagreements})
    listing = json.loads(_cli(env, "hearings", "--json").stdout)
    report["hearings"] = {h["key"]: h["assets"] for h in listing}
    report["library"] = json.loads(_cli(env, "speakers", "list", "--json").stdout)
    report["total_s"] = round(time.monotonic() - began, 1)
    report["machine_at_end"] = machine()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "speaker_soak.json").write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k not in ("hearings", "library")}, indent=2))


if __name__ == "__main__":
    main()
