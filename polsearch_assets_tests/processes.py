"""Starting and stopping a real ``dagster dev`` (webserver + daemon) for tests and benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    """Stop a process started with ``start_new_session`` and every child of it, by process group."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


_WORKSPACE = """{ workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def _location_loaded(url: str) -> str | None:
    """None while the webserver or the code location is still loading; "" when loaded; the error if it failed."""
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": _WORKSPACE}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            entries = json.loads(response.read())["data"]["workspaceOrError"]["locationEntries"]
    except (OSError, KeyError, TypeError, ValueError):
        return None
    if not entries or any(e["loadStatus"] != "LOADED" for e in entries):
        return None
    errors = [
        e["locationOrLoadError"].get("message", "")
        for e in entries
        if e["locationOrLoadError"]["__typename"] == "PythonError"
    ]
    return "; ".join(errors)


@contextmanager
def dagster_dev(home: Path, env: Mapping[str, str], *, timeout_s: float = 120) -> Iterator[str]:
    """``dagster dev`` on a free port with DAGSTER_HOME=``home``; yields its URL once it answers, stops it after.

    The webserver, daemon and code servers are one process group, stopped by PID even when the
    block raises. SIGINT is reset in the child: a parent that ignores it (a background job) would
    otherwise make ``dagster dev`` ignore SIGTERM too.
    """
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    port = free_port()
    log = (home / "dagster-dev.log").open("w")
    process = subprocess.Popen(
        [str(BIN / "dagster"), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=REPO,
        env={**env, "DAGSTER_HOME": str(home)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"dagster dev did not come up:\n{(home / 'dagster-dev.log').read_text()[-3000:]}"
                )
            if (loaded := _location_loaded(url)) is not None:
                break
            time.sleep(0.5)
        if loaded:
            raise RuntimeError(f"the code location failed to load in dagster dev: {loaded}")
        yield url
    finally:
        stop(process)
        log.close()


def json_from_fresh_interpreter(script: str, env: Mapping[str, str], clear: tuple[str, ...]) -> object:
    """Run ``script`` (its last stdout line is JSON) in a new interpreter, as a code location loads: this
    environment without the variables starting with ``clear``, plus ``env``."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(clear)}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**kept, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def polsearch(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``polsearch`` console script, as a user runs it, in the repository."""
    return subprocess.run(
        [str(BIN / "polsearch"), *args],
        env=dict(env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
