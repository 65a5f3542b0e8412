"""Structured logs: real runs on an instance configured like deploy/dagster.yaml, parsed back line by line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from polsearch_assets_tests.fixtures.hearing import ingest_audio
from polsearch_assets_tests.fixtures.media import REPO, SAMPLE_WAV

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test


@pytest.fixture
def json_instance() -> Iterator[dg.DagsterInstance]:
    """An instance with deploy/dagster.yaml's python_logs, as every production run and step pod has."""
    python_logs = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["python_logs"]
    with dg.instance_for_test(overrides={"python_logs": python_logs}) as instance:
        yield instance


def run_with_json_logs(
    instance: dg.DagsterInstance,
    resources: dict[str, object],
    source: Path,
    capfd: pytest.CaptureFixture[str],
) -> tuple[str, dg.ExecuteInProcessResult, list[dict[str, Any]]]:
    capfd.readouterr()
    key, result = ingest_audio(instance, resources, str(source))
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    return key, result, lines


def test_every_line_is_json_with_hearing_asset_duration_and_metrics(
    json_instance: dg.DagsterInstance, resources: dict[str, object], capfd: pytest.CaptureFixture[str]
) -> None:
    key, result, lines = run_with_json_logs(json_instance, resources, SAMPLE_WAV, capfd)
    assert result.success
    assert lines and all(line["hearing"] == key and line["run_id"] == result.run_id for line in lines)
    assert all(
        line["job"] == "__ephemeral_asset_job__" and line["level"] in {"DEBUG", "INFO"} for line in lines
    )
    successes = {line["asset"]: line for line in lines if line.get("event") == "STEP_SUCCESS"}
    assert set(successes) == {"raw_audio", "vad_chunks"}
    assert all(line["duration_ms"] > 0 for line in successes.values())
    (materialized,) = [
        line
        for line in lines
        if line.get("event") == "ASSET_MATERIALIZATION" and line["asset"] == "vad_chunks"
    ]
    assert materialized["metrics"]["chunk_count"] > 0  # the numeric metadata, for log-based metrics
    assert all(isinstance(v, int | float) for v in materialized["metrics"].values())


def test_a_failed_step_logs_its_error(
    json_instance: dg.DagsterInstance,
    resources: dict[str, object],
    media_files: dict[str, Path],
    capfd: pytest.CaptureFixture[str],
) -> None:
    key, result, lines = run_with_json_logs(json_instance, resources, media_files["notaudio.mp4"], capfd)
    assert not result.success
    (failure,) = [line for line in lines if line.get("event") == "STEP_FAILURE"]
    assert failure["asset"] == "raw_audio" and failure["hearing"] == key and failure["level"] == "ERROR"
    assert failure["error"]


def test_without_the_instance_setting_nothing_is_written_as_json(
    instance: dg.DagsterInstance, resources: dict[str, object], capfd: pytest.CaptureFixture[str]
) -> None:
    _, result, lines = run_with_json_logs(instance, resources, SAMPLE_WAV, capfd)
    assert result.success and lines == []  # the embedded default: Dagster's text console only
