"""Pipeline health checks: the uploads sensor's pulse, and hearings indexed within the allowed lag."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteInstigatorOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.scheduler.instigation import InstigatorState, InstigatorStatus, InstigatorType
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from polsearch_assets.config import Settings
from polsearch_assets.core.catalog import HearingCatalog
from polsearch_assets.defs.hearing.registration import register_hearing
from polsearch_assets.defs.platform.health import HEALTH_CHECKS, HealthPolicy, pipeline_health
from polsearch_assets.defs.uploads.sensors import UPLOADS_FEED, youtube_uploads_feed
from polsearch_assets_tests.fixtures.hearing import hearing_resources, run_hearing
from polsearch_assets_tests.fixtures.media import silent_wav

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test


def evaluate(
    instance: dg.DagsterInstance, resources: dict[str, object], name: str
) -> dg.AssetCheckEvaluation:
    defs = dg.Definitions(
        assets=[youtube_uploads_feed(Settings())],
        asset_checks=HEALTH_CHECKS,
        jobs=[pipeline_health],
        resources=resources,
    )
    result = defs.resolve_job_def("pipeline_health").execute_in_process(instance=instance)
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == name)


def heartbeat(instance: dg.DagsterInstance, **channels: bool) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=UPLOADS_FEED,
            metadata={"per_channel": dg.MetadataValue.json({n: {"ok": ok} for n, ok in channels.items()})},
        )
    )


def test_sensor_alive(tmp_path: Path) -> None:
    resources = hearing_resources(tmp_path)
    with dg.instance_for_test() as instance:
        unused = evaluate(instance, resources, "sensor_alive")
        assert unused.passed and "not in use" in unused.description

        resources["health"] = HealthPolicy.from_settings(uploads_configured=True, uploads_interval_s=1)
        never = evaluate(instance, resources, "sensor_alive")
        assert not never.passed and "last read a feed never" in never.description

        heartbeat(instance, judiciary=True)
        assert evaluate(instance, resources, "sensor_alive").passed
        heartbeat(instance, judiciary=True, commerce=False)
        degraded = evaluate(instance, resources, "sensor_alive")
        assert not degraded.passed and degraded.severity == dg.AssetCheckSeverity.WARN
        assert "channels failing: commerce" in degraded.description

        time.sleep(3.2)  # three intervals of 1 s without a feed read
        silent = evaluate(instance, resources, "sensor_alive")
        assert not silent.passed and silent.severity == dg.AssetCheckSeverity.ERROR
        assert "allowed: 3.0 s" in silent.description and "dagster-daemon running" in silent.description

        heartbeat(instance, judiciary=True)
        origin = RemoteInstigatorOrigin(
            RemoteRepositoryOrigin(
                InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="polsearch_assets.definitions")),
                "__repository__",
            ),
            "youtube_uploads",
        )
        instance.add_instigator_state(
            InstigatorState(origin, InstigatorType.SENSOR, InstigatorStatus.STOPPED)
        )
        stopped = evaluate(instance, resources, "sensor_alive")
        assert not stopped.passed and "the youtube_uploads sensor is stopped" in stopped.description


def test_hearings_indexed_in_time(tmp_path: Path) -> None:
    resources = hearing_resources(tmp_path)
    store = resources["artifact_store"]
    resources["health"] = HealthPolicy.from_settings(uploads_configured=False, index_lag_hours=2)
    with dg.instance_for_test() as instance:
        indexed, result = run_hearing(instance, resources, silent_wav(tmp_path / "a.wav", 3))
        assert result.success
        fresh = register_hearing(instance, store, str(silent_wav(tmp_path / "b.wav", 4))).entry.key
        assert evaluate(instance, resources, "hearings_indexed_in_time").passed  # b was registered just now

        stuck = register_hearing(instance, store, str(silent_wav(tmp_path / "c.wav", 5))).entry
        HearingCatalog(store).put(replace(stuck, registered_at="2026-01-01T00:00:00+00:00"))
        late = evaluate(instance, resources, "hearings_indexed_in_time")
        assert not late.passed
        assert (
            f"1 hearing(s) registered over 2 h ago are not indexed: {stuck.key} (missing)" in late.description
        )
        assert indexed not in late.description and fresh not in late.description
