"""The production instance (deploy/dagster.yaml) on a real Postgres, with object storage on a real S3 server.

Postgres is the machine's (127.0.0.1:5432, trust auth; POLSEARCH_TEST_PG_* override). Each test
session creates a throwaway database and drops it at the end. No Postgres is a failure, not a skip:
these are the production storage tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from polsearch_assets.core.contracts import HEARING_ASSETS
from polsearch_assets.defs.platform.logs import JsonLinesHandler
from polsearch_assets_tests.fixtures.hearing import hearing_resources, run_hearing
from polsearch_assets_tests.fixtures.media import SAMPLE_WAV
from polsearch_assets_tests.fixtures.processes import REPO
from polsearch_assets_tests.fixtures.s3_server import REGION, S3Server, s3_credentials, s3_server

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test

__all__ = ["s3_credentials", "s3_server"]  # fixtures

PG = {
    "host": os.environ.get("POLSEARCH_TEST_PG_HOST", "127.0.0.1"),
    "port": os.environ.get("POLSEARCH_TEST_PG_PORT", "5432"),
    "user": os.environ.get("POLSEARCH_TEST_PG_USER", "postgres"),
    "password": os.environ.get("POLSEARCH_TEST_PG_PASSWORD", ""),
}


def _admin():
    import psycopg2

    try:
        connection = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    except psycopg2.OperationalError as error:
        pytest.fail(
            f"the production storage tests need Postgres at {PG['host']}:{PG['port']} ({error}); start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`",
            pytrace=False,
        )
    connection.autocommit = True
    return connection


@pytest.fixture(scope="session")
def postgres_db() -> Iterator[str]:
    name = f"polsearch_test_{uuid.uuid4().hex[:10]}"
    admin = _admin()
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def production_env(db: str, s3: S3Server, bucket: str, home: Path) -> dict[str, str]:
    """What the deployment's ConfigMap and Secrets give every pod, pointed at local servers."""
    return {
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_HOST": PG["host"],
        "DAGSTER_PG_PORT": PG["port"],
        "DAGSTER_PG_USERNAME": PG["user"],
        "DAGSTER_PG_PASSWORD": PG["password"],
        "DAGSTER_PG_DB": db,
        "PGSSLMODE": "prefer",
        "DAGSTER_K8S_NAMESPACE": "polsearch",
        "DAGSTER_K8S_SERVICE_ACCOUNT": "polsearch",
        "DAGSTER_K8S_INSTANCE_CONFIG_MAP": "polsearch-dagster-instance",
        "POLSEARCH_S3_BUCKET": bucket,
        "POLSEARCH_S3_ENDPOINT_URL": s3.endpoint,
        "POLSEARCH_S3_REGION": REGION,
        "POLSEARCH_ARTIFACT_ROOT": f"s3://{bucket}/artifacts",
        "POLSEARCH_LANCEDB_URI": f"s3://{bucket}/lancedb",
        "POLSEARCH_EXECUTOR": "k8s",
    }


@pytest.fixture
def production(
    postgres_db: str,
    s3_server: S3Server,
    s3_credentials: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "deploy" / "dagster.yaml").read_text())
    env = production_env(postgres_db, s3_server, s3_server.new_bucket(), home)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_the_production_instance_settings(production: dict[str, str]) -> None:
    with dg.DagsterInstance.from_config(production["DAGSTER_HOME"]) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
        assert (
            instance.get_ref().run_launcher_data.class_name == "K8sRunLauncher"
        )  # built only on the cluster
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 40
        assert {"key": "dagster/backfill", "limit": 10} in queue.tag_concurrency_limits
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 4
        assert instance.run_coordinator.dequeue_interval_seconds == 1
        assert instance.run_monitoring_enabled and instance.run_monitoring_start_timeout_seconds == 1200
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 300
        assert instance.get_settings("retention")["sensor"]["purge_after_days"]["failure"] == 90
        assert any(isinstance(h, JsonLinesHandler) for h in instance.get_handlers())  # JSON logs in every run


@pytest.mark.slow
def test_the_sample_hearing_materializes_on_postgres_and_s3(
    production: dict[str, str], s3_server: S3Server, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from polsearch_assets.config import Settings
    from polsearch_assets.defs.platform.storage import configured_artifact_store, configured_lance_index

    settings = Settings.from_env()
    resources = hearing_resources(tmp_path) | {
        "artifact_store": configured_artifact_store(settings),
        "lance_index": configured_lance_index(settings),
    }
    with dg.DagsterInstance.from_config(production["DAGSTER_HOME"]) as instance:
        key, result = run_hearing(instance, resources, SAMPLE_WAV)
        assert result.success
        assert key in instance.get_dynamic_partitions("hearings")

    import psycopg2

    with (
        psycopg2.connect(dbname=production["DAGSTER_PG_DB"], **PG) as connection,
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,))
        assert cursor.fetchone() == ("SUCCESS",)
        cursor.execute(
            "SELECT count(DISTINCT asset_key) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
            (result.run_id, "ASSET_MATERIALIZATION"),
        )
        assert cursor.fetchone() == (len(HEARING_ASSETS),)
        cursor.execute("SELECT partition FROM dynamic_partitions WHERE partitions_def_name = 'hearings'")
        assert (key,) in cursor.fetchall()
    stored = {a.name for a in resources["artifact_store"].list_artifacts(key)}
    assert {"raw_audio.wav", "aligned_segments.json", "word_archive.parquet"} <= stored

    # the instance's JSON log lines: one materialization per asset, with its real-time factor
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    materialized = {
        line["asset"]: line["metrics"] for line in lines if line.get("event") == "ASSET_MATERIALIZATION"
    }
    assert len(materialized) == len(HEARING_ASSETS) and all(line["hearing"] == key for line in lines)
    assert materialized["transcript"]["real_time_factor"] > 0
    assert materialized["diarization"]["real_time_factor"] > 0


def test_definitions_validate_with_the_production_configuration(production: dict[str, str]) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env={**os.environ, **production},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_deploy_instance_mirrors_the_helm_values() -> None:
    instance = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    values = yaml.safe_load((REPO / "deploy" / "helm" / "values.yaml").read_text())
    runs, pools = values["concurrency"]["runs"], values["concurrency"]["pools"]
    assert values["concurrency"]["enabled"] is True
    assert runs["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert runs["tagConcurrencyLimits"] == instance["concurrency"]["runs"]["tag_concurrency_limits"]
    assert pools["defaultLimit"] == instance["concurrency"]["pools"]["default_limit"]
    assert pools["granularity"] == instance["concurrency"]["pools"]["granularity"]
    queued = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queued == {"dequeueIntervalSeconds": instance["run_queue"]["dequeue_interval_seconds"]}
    monitoring = values["dagsterDaemon"]["runMonitoring"]
    assert monitoring["startTimeoutSeconds"] == instance["run_monitoring"]["start_timeout_seconds"]
    assert (
        monitoring["freeSlotsAfterRunEndSeconds"]
        == instance["run_monitoring"]["free_slots_after_run_end_seconds"]
    )
    assert (
        values["retention"]["sensor"]["purgeAfterDays"] == instance["retention"]["sensor"]["purge_after_days"]
    )
    assert values["pythonLogs"]["dagsterHandlerConfig"] == instance["python_logs"]["dagster_handler_config"]
    assert (
        values["postgresql"]["postgresqlScheme"] == instance["storage"]["postgres"]["postgres_db"]["scheme"]
    )
