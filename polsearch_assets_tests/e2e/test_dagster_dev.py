"""`dagster dev` serves the asset graph: started for real on 127.0.0.1, queried over GraphQL, stopped by PID."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

from polsearch_assets_tests.fixtures.processes import dagster_dev

_QUERY = "{ assetNodes { assetKey { path } partitionDefinition { name } dependencyKeys { path } } }"


def _graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_dagster_dev_serves_the_graph(tmp_path: Path) -> None:
    env = {**os.environ, "POLSEARCH_ARTIFACT_ROOT": str(tmp_path / "artifacts")}
    with dagster_dev(tmp_path / "home", env) as url:
        deadline, nodes = time.monotonic() + 60, None
        while nodes is None and time.monotonic() < deadline:
            try:
                nodes = _graphql(url, _QUERY)["data"]["assetNodes"]
            except (OSError, KeyError, TypeError):  # the code location may still be loading
                time.sleep(1)
        assert nodes is not None
        by_key = {"/".join(n["assetKey"]["path"]): n for n in nodes}
        assert set(by_key) == {
            "raw_audio", "vad_chunks", "transcript", "diarization", "aligned_segments", "speaker_names",
            "hearing_index", "word_archive", "youtube_uploads", "voiceprint_library",
        }  # fmt: skip
        assert by_key["vad_chunks"]["dependencyKeys"] == [{"path": ["raw_audio"]}]
        assert sorted(d["path"][0] for d in by_key["aligned_segments"]["dependencyKeys"]) == [
            "diarization",
            "transcript",
        ]
        assert all(
            n["partitionDefinition"]["name"] == "hearings"
            for k, n in by_key.items()
            if k not in ("youtube_uploads", "voiceprint_library")  # external, one for all hearings
        )
    # Started from the repository root with DAGSTER_HOME elsewhere (as the README says): no second dagster.yaml
    log = (tmp_path / "home" / "dagster-dev.log").read_text()
    assert "Found a dagster instance configuration value" not in log, log[-2000:]
