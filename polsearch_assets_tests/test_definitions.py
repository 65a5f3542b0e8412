"""The code location loads the way Dagster tools load it, and its asset specs stay as intended."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from polsearch_assets.definitions import defs

from .conftest import REPO


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DAGSTER_HOME": ""}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_dagster_definitions_validate() -> None:
    result = _run(
        str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    shutil.which("dg", path=str(Path(sys.executable).parent)) is None, reason="dg not installed"
)
def test_dg_check_defs() -> None:
    result = _run(str(Path(sys.executable).parent / "dg"), "check", "defs")
    assert result.returncode == 0, result.stdout + result.stderr


def test_asset_specs() -> None:
    graph = defs.resolve_asset_graph()
    specs = {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}
    assert set(specs) == {"raw_audio", "vad_chunks"}
    assert specs["vad_chunks"].parent_keys == {dg.AssetKey("raw_audio")}
    for node in specs.values():
        assert node.partitions_def == dg.DynamicPartitionsDefinition(name="hearings")
        assert node.code_version
        assert node.group_name == "audio"
    retry = defs.resolve_assets_def("raw_audio").op.retry_policy
    assert retry is not None and retry.max_retries == 3 and retry.backoff == dg.Backoff.EXPONENTIAL
    assert retry.jitter == dg.Jitter.PLUS_MINUS


def test_job_and_resources() -> None:
    job = defs.resolve_job_def("hearing_pipeline")
    assert job.partitions_def == dg.DynamicPartitionsDefinition(name="hearings")
    assert set(defs.resources) >= {"artifact_store", "media_fetcher", "vad"}
