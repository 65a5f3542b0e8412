"""The API client against a real ``dagster-webserver`` on an archive recorded without running models: the
staleness it decides from materializations fetched in bulk is Dagster's own, hearing by hearing and asset
by asset, for each kind of staleness; the stale plan is asked a page at a time and stops at --max; and
``status KEY`` asks about that hearing only, however many hearings are registered."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from polsearch_assets.client import HEARING_ASSETS, DagsterApi, stale_plan
from polsearch_assets.client import api as api_module
from polsearch_assets_tests.fixtures.archive import archive_home, dagster_stale, record_archive_hearings
from polsearch_assets_tests.fixtures.processes import REPO, dagster_dev, polsearch

pytestmark = pytest.mark.slow  # a real webserver: seconds to start

KEYS = [f"hearing-{i}" for i in range(8)]
OLD_MODEL = {
    key: {"transcript": "transcript-v0"} for key in ("hearing-1", "hearing-3")
}  # a code version bump
RERUNS = {"hearing-2": "transcript", "hearing-5": "vad_chunks"}  # upstream re-materialized with new data
# hearing-0, -4, -6, -7: nothing stale


class CountingApi(DagsterApi):
    """The client, counting its requests and the bytes of their answers."""

    requests = 0
    answered = 0

    def graphql(self, document: str, variables: Mapping[str, Any] | None = None, **kwargs: Any) -> dict:
        data = super().graphql(document, variables, **kwargs)
        self.requests += 1
        self.answered += len(json.dumps(data))
        return data


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, dict[str, str], dg.Definitions]:
    home, defs = archive_home(tmp_path)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        record_archive_hearings(instance, defs, KEYS, code_versions=OLD_MODEL, reruns=RERUNS)
        instance.add_dynamic_partitions(
            "hearings", ["hearing-new"]
        )  # registered, never run: missing, not stale
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "POLSEARCH_HOME": str(tmp_path / "polsearch"),
        "POLSEARCH_DAGSTER_TIMEOUT_S": "120",  # as the API object below: the reference queries are slow
        "PYTHONPATH": str(REPO),  # the polsearch command runs this tree's code (a worktree beside an install)
    }
    return home, env, defs


def test_staleness_agrees_with_dagster_for_each_kind_and_the_plan_pages_and_stops(
    archive: tuple[Path, dict[str, str], dg.Definitions], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, env, _ = archive
    monkeypatch.setattr(api_module, "STALE_PAGE", 3)
    with dagster_dev(home, env, daemon=False, timeout_s=180) as url:
        # Dagster's own per-partition staleness, the reference here, is slow by design: on a busy machine one
        # request ran past the client's 30 s, which is never repeated.
        api, asked = DagsterApi(url=url, timeout_s=120), []
        api.stale_sensor = None  # the page-by-page path, for a deployment without the stale_hearings sensor
        for change in ("as recorded", "the voiceprint library changed"):
            if change == "the voiceprint library changed":  # every hearing's speaker_names read the old one
                with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
                    instance.report_runless_asset_event(
                        dg.AssetMaterialization(
                            "voiceprint_library", tags={"dagster/data_version": "library-2"}
                        )
                    )
            expected = dagster_stale(api, KEYS)
            assert (
                expected["transcript"] == {*OLD_MODEL, "hearing-5"}
                and "hearing-2" in expected["aligned_segments"]
            )
            for key in KEYS:
                mine = {name for name, asset in api.status(key).assets.items() if asset.stale}
                assert mine == {a for a in HEARING_ASSETS if key in expected[a]}, (change, key)
            asked.clear()
            plan = api.plan_backfill("stale", progress=lambda done, of: asked.append((done, of)))
            assert plan.assets_by_key == stale_plan(KEYS, expected), change
            assert asked == [(3, 8), (6, 8), (8, 8)]  # pages of 3, and never about hearing-new

        asked.clear()
        first = api.plan_backfill("stale", limit=1, progress=lambda done, of: asked.append((done, of)))
        assert first.keys == ["hearing-0"] and asked == [(3, 8)]  # found on the first page: asks no more


def test_the_stale_hearings_sensor_plans_as_dagster_decides_from_a_cache_it_fills_a_step_at_a_time(
    archive: tuple[Path, dict[str, str], dg.Definitions],
) -> None:
    """The fast path of ``backfill --stale``: the sensor's plan (through ``sensorDryRun``) is Dagster's
    hearing by hearing, cold (a budget so small that each dry run reads one asset's events: the client asks
    again) and warm (one request, nothing read), after a library change and after an upstream asset of one
    hearing is re-materialized with new data (one event read). Fails before the sensor existed."""
    home, env, _ = archive
    env = {**env, "POLSEARCH_STALE_BUDGET_S": "0.001"}
    with dagster_dev(home, env, daemon=False, timeout_s=180) as url:
        api = CountingApi(url=url, timeout_s=120)
        steps: list[tuple[int, int]] = []

        def plan() -> dict[str, list[str]]:
            steps.clear()
            api.requests = 0
            return api.plan_backfill(
                "stale", cache_progress=lambda read, left: steps.append((read, left))
            ).assets_by_key

        cold = plan()
        assert len(steps) >= 5 and all(read > 0 for read, _ in steps)  # partial answers, each reading
        assert api.requests == len(steps) + 1
        expected = dagster_stale(api, KEYS)
        assert cold == stale_plan(KEYS, expected) and set(cold) == {*OLD_MODEL, *RERUNS}
        assert plan() == cold and (steps, api.requests) == ([], 1)  # warm: one dry run

        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
            instance.report_runless_asset_event(  # hearing-0's transcript again, with other data
                dg.AssetMaterialization(
                    "transcript", partition="hearing-0", tags={"dagster/data_version": "transcript-again"}
                )
            )
        expected = dagster_stale(api, KEYS)
        assert "hearing-0" in expected["aligned_segments"] | expected["transcript"]
        assert plan() == stale_plan(KEYS, expected) and "hearing-0" in plan()

        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
            instance.report_runless_asset_event(
                dg.AssetMaterialization("voiceprint_library", tags={"dagster/data_version": "library-2"})
            )
        expected = dagster_stale(api, KEYS)
        assert (
            plan()
            == stale_plan(KEYS, expected)
            == {
                k: list(
                    HEARING_ASSETS[
                        HEARING_ASSETS.index(next(a for a in HEARING_ASSETS if k in expected[a])) :
                    ]
                )
                for k in KEYS
            }
        )
        assert api.plan_backfill("stale", limit=2).keys == ["hearing-0", "hearing-1"]

        dry = polsearch(env, "backfill", "--stale", "--dry-run", "--url", url)
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.splitlines()[-1] == "dry run: 8 hearings would be backfilled"
        assert "hearing-new" not in dry.stdout  # registered, never run: missing, not stale
        local = polsearch(env, "backfill", "--stale", "--dry-run", "--local")  # in-process, the same code
        assert (local.returncode, local.stdout) == (0, dry.stdout), local.stderr


def test_status_asks_about_the_one_hearing_however_many_are_registered(
    archive: tuple[Path, dict[str, str], dg.Definitions],
) -> None:
    home, env, _ = archive
    with dagster_dev(home, env, daemon=False, timeout_s=180) as url:
        small = CountingApi(url=url)
        before = small.status("hearing-3")
        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
            instance.add_dynamic_partitions("hearings", [f"more-{i:04d}" for i in range(400)])
        large = CountingApi(url=url)
        assert large.status("hearing-3") == before
        assert before.assets["transcript"].stale and not before.assets["raw_audio"].stale
        assert (large.requests, large.answered) == (small.requests, small.answered)
        with pytest.raises(api_module.UnknownHearing):
            large.status("no-such-hearing")
