"""How long ``dagster dev`` takes to stop after Ctrl-C: this code location against a one-asset one, and with a
browser open on the UI. Results in BENCHMARKS.md ("Stopping dagster dev").

    .venv/bin/python bench/bench_dev_stop.py [--rounds 2]

Each case starts ``dagster dev`` from its own directory on a fresh DAGSTER_HOME (the local instance's
dagster.yaml), waits until the code location answers, waits 10 s (headless Chromium on the Runs page for the
browser case), sends SIGINT to the process group (what Ctrl-C in a terminal does) and times the exit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import OUT, machine  # noqa: E402
from polsearch_assets.local.instance import LOCAL_DAGSTER_YAML  # noqa: E402
from polsearch_assets_tests.fixtures.processes import BIN, _location_loaded, free_port  # noqa: E402

ONE_ASSET = """import dagster as dg

@dg.asset
def one() -> None: ...

defs = dg.Definitions(assets=[one])
"""
ONE_ASSET_WORKSPACE = (
    "load_from:\n  - python_file:\n      relative_path: defs_one.py\n      location_name: one\n"
)


def stop_seconds(workdir: Path, home: Path, browser: str | None) -> float:
    home.mkdir(parents=True)
    shutil.copyfile(LOCAL_DAGSTER_YAML, home / "dagster.yaml")
    port = free_port()
    with (home / "dagster-dev.log").open("w") as log:
        dev = subprocess.Popen(
            [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=workdir,
            env={**os.environ, "DAGSTER_HOME": str(home), "POLSEARCH_HOME": str(home.parent / "polsearch")},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        viewer = None
        try:
            while _location_loaded(f"http://127.0.0.1:{port}") is None:
                if dev.poll() is not None:
                    raise RuntimeError((home / "dagster-dev.log").read_text()[-2000:])
                time.sleep(0.5)
            if browser:
                viewer = subprocess.Popen(
                    [browser, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={home}/chrome",
                     "--remote-debugging-port=0", f"http://127.0.0.1:{port}/runs"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                )  # fmt: skip
            time.sleep(25 if browser else 10)
            started = time.monotonic()
            os.killpg(dev.pid, signal.SIGINT)
            dev.wait(timeout=120)
            return time.monotonic() - started
        finally:
            for process in (dev, viewer):
                if process is not None and process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    result: dict[str, object] = {"machine_at_start": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one"
        one.mkdir()
        (one / "defs_one.py").write_text(ONE_ASSET)
        (one / "workspace.yaml").write_text(ONE_ASSET_WORKSPACE)
        cases = {"polsearch": (REPO, None), "one_asset": (one, None)}
        if browser:
            cases["polsearch_with_browser"] = (REPO, browser)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for round_ in range(args.rounds):
            for name, (workdir, viewer) in cases.items():
                seconds = stop_seconds(workdir, Path(tmp) / f"{name}-{round_}" / "dagster", viewer)
                times[name].append(round(seconds, 1))
                print(f"{name}: stopped {seconds:.1f} s after SIGINT", flush=True)
    result["stop_seconds"] = times
    result["load_at_end"] = round(os.getloadavg()[0], 2)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "dev_stop.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
