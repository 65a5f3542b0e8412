"""`dagster dev` serves the asset graph: started for real on 127.0.0.1, queried over GraphQL, stopped by PID."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .conftest import REPO

_QUERY = "{ assetNodes { assetKey { path } partitionDefinition { name } dependencyKeys { path } } }"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_dagster_dev_serves_the_graph(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        "POLSEARCH_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
    }
    log = (tmp_path / "dagster-dev.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster"),
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so the webserver and daemon children stop with it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline, nodes = time.monotonic() + 120, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                nodes = _graphql(port, _QUERY)["data"]["assetNodes"]
                break
            except (OSError, KeyError, TypeError):
                time.sleep(1)
        assert nodes is not None, (tmp_path / "dagster-dev.log").read_text()[-3000:]
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        assert set(by_key) == {
            "raw_audio", "vad_chunks", "transcript", "diarization", "aligned_segments", "hearing_index", "word_archive",
            "youtube_uploads",
        }  # fmt: skip
        assert by_key["vad_chunks"]["dependencyKeys"] == [{"path": ["raw_audio"]}]
        assert sorted(d["path"][0] for d in by_key["aligned_segments"]["dependencyKeys"]) == [
            "diarization",
            "transcript",
        ]
        assert all(
            n["partitionDefinition"]["name"] == "hearings"
            for k, n in by_key.items()
            if k != "youtube_uploads"
        )
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
