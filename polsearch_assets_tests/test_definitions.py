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
from polsearch_assets.execution import configured_executor
from polsearch_assets.resources.backends import configured_backends

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
    parents = {name: {k.to_user_string() for k in node.parent_keys} for name, node in specs.items()}
    assert parents == {
        "raw_audio": set(),
        "vad_chunks": {"raw_audio"},
        "transcript": {"vad_chunks"},
        "diarization": {"vad_chunks"},
        "aligned_segments": {"transcript", "diarization"},
        "hearing_index": {"aligned_segments"},
        "word_archive": {"aligned_segments"},
        "youtube_uploads": set(),
    }
    assert specs.pop("youtube_uploads").freshness_policy is not None  # the uploads sensor's pulse
    for node in specs.values():
        assert node.partitions_def == dg.DynamicPartitionsDefinition(name="hearings")
        assert node.code_version
    # Model identity is part of the code version, so a model change marks hearings stale.
    backends = configured_backends()
    assert backends.transcriber.model_identity in specs["transcript"].code_version
    assert backends.diarizer.model_identity in specs["diarization"].code_version
    assert backends.embedder.model_identity in specs["hearing_index"].code_version
    retry = defs.resolve_assets_def("raw_audio").op.retry_policy
    assert retry is not None and retry.max_retries == 3 and retry.backoff == dg.Backoff.EXPONENTIAL
    assert retry.jitter == dg.Jitter.PLUS_MINUS
    assert defs.resolve_assets_def("hearing_index").op.retry_policy is not None  # LanceDB commit conflicts
    assert specs["hearing_index"].freshness_policy is not None


def test_checks_sensors_and_schedules() -> None:
    graph = defs.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name): graph.get(k) for k in graph.asset_check_keys}
    blocking = {name for name, node in checks.items() if node.blocking}
    assert blocking == {
        (asset, "contract")
        for asset in ("raw_audio", "vad_chunks", "transcript", "diarization", "aligned_segments")
    }
    assert set(checks) - blocking == {
        ("vad_chunks", "speech_found"),
        ("hearing_index", "contract"),
        ("word_archive", "contract"),
        ("youtube_uploads", "sensor_alive"),
        ("youtube_uploads", "hearings_indexed_in_time"),
    }
    sensors = {s.name for s in defs.sensors}
    assert sensors == {
        "youtube_uploads",
        "hearing_automation",
        "notify_hearing_indexed",
        "notify_hearing_failed",
    }
    assert {s.name for s in defs.schedules} == {"pipeline_health_every_15_min", "audio_retention_daily"}
    # The hearing job runs the hearing assets' checks, never the unpartitioned health checks.
    job = defs.resolve_job_def("hearing_pipeline")
    assert {c.asset_key.to_user_string() for c in job.asset_layer.asset_graph.asset_check_keys} >= {
        "raw_audio"
    }
    assert "youtube_uploads_sensor_alive" not in {n.name for n in job.graph.node_defs}


def test_job_and_resources() -> None:
    job = defs.resolve_job_def("hearing_pipeline")
    assert job.partitions_def == dg.DynamicPartitionsDefinition(name="hearings")
    assert set(defs.resources) >= {
        "artifact_store",
        "media_fetcher",
        "vad",
        "transcriber",
        "diarizer",
        "embedder",
        "lance_index",
        "uploads_watch",
        "webhooks",
    }


def test_register_hearings_job_and_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    register = defs.resolve_job_def("register_hearings")
    assert register.partitions_def is None  # registers many hearings, runs none
    assert defs.resolve_job_def("hearing_pipeline").executor_def is dg.in_process_executor
    monkeypatch.setenv("POLSEARCH_EXECUTOR", "multiprocess")
    assert configured_executor().name == "multiprocess"
    monkeypatch.setenv("POLSEARCH_EXECUTOR", "celery")
    with pytest.raises(ValueError, match="POLSEARCH_EXECUTOR='celery' is not a known executor"):
        configured_executor()


def test_unknown_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    configured_backends.cache_clear()
    monkeypatch.setenv("POLSEARCH_ASR_BACKEND", "nemo-typo")
    try:
        with pytest.raises(ValueError, match="POLSEARCH_ASR_BACKEND='nemo-typo' is not a known backend"):
            configured_backends()
    finally:
        configured_backends.cache_clear()
