"""The runs local commands make are runs of their job in the UI: a real ``dagster-webserver`` on the instance a
real ``polsearch ingest`` and ``polsearch speakers name`` wrote lists them under the job (Jobs -> job -> Runs,
Overview -> Timeline), with the job's origin and snapshot (Re-execute raises no "different version" warning)."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import pytest

from polsearch_assets_tests.fixtures.media import SAMPLE_WAV
from polsearch_assets_tests.fixtures.processes import dagster_dev, polsearch

pytestmark = pytest.mark.slow

_JOB = """query ($job: String!) { pipelineOrError(params: {pipelineName: $job, repositoryName: "__repository__",
  repositoryLocationName: "polsearch"}) { __typename ... on Pipeline { pipelineSnapshotId runs { runId } } } }"""
_RUNS = """query ($job: String!) { runsOrError(filter: {pipelineName: $job}) { ... on Runs { results {
  runId status pipelineSnapshotId repositoryOrigin { repositoryName repositoryLocationName } } } } }"""


def _graphql(url: str, query: str, **variables: str) -> dict:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def test_cli_runs_are_runs_of_their_job_in_the_ui(cli_env: dict[str, str], tmp_path: Path) -> None:
    ingest = polsearch(cli_env, "ingest", str(SAMPLE_WAV))
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    ingest_run = re.search(r"^run (\S+): SUCCESS$", ingest.stdout, re.MULTILINE)
    assert ingest_run, ingest.stdout
    key = ingest.stdout.strip().splitlines()[-1]
    named = polsearch(cli_env, "speakers", "name", key, "SPEAKER_0", "Chair Person")
    assert named.returncode == 0, named.stderr[-3000:]

    with dagster_dev(Path(cli_env["DAGSTER_HOME"]), cli_env, daemon=False) as url:
        for job in ("hearing_pipeline", "speaker_library", "speaker_names_refresh"):
            recorded = _graphql(url, _RUNS, job=job)["runsOrError"]["results"]
            assert recorded, f"the CLI made no {job} run"
            pipeline = _graphql(url, _JOB, job=job)["pipelineOrError"]
            assert pipeline["__typename"] == "Pipeline"
            # Jobs -> job -> Runs lists exactly the runs of the job (it filters on the job's origin)
            assert {r["runId"] for r in pipeline["runs"]} == {r["runId"] for r in recorded}
            for run in recorded:
                assert run["status"] == "SUCCESS"
                # what the UI compares before Re-execute: same origin and same snapshot, so no warning
                assert run["repositoryOrigin"] == {
                    "repositoryName": "__repository__",
                    "repositoryLocationName": "polsearch",
                }
                assert run["pipelineSnapshotId"] == pipeline["pipelineSnapshotId"]
        assert ingest_run.group(1) in {
            r["runId"] for r in _graphql(url, _JOB, job="hearing_pipeline")["pipelineOrError"]["runs"]
        }
