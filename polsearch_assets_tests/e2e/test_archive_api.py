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
from polsearch_assets.defs.hearing.checks import HEARING_CHECKS
from polsearch_assets.local.instance import LOCAL_DAGSTER_YAML
from polsearch_assets_tests.fixtures.archive import dagster_stale, record_archive_hearings
from polsearch_assets_tests.fixtures.hearing import assets_for, hearing_resources
from polsearch_assets_tests.fixtures.processes import dagster_dev, polsearch

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
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(LOCAL_DAGSTER_YAML.read_text())
    resources = hearing_resources(tmp_path)
    defs = dg.Definitions(assets=assets_for(resources), asset_checks=HEARING_CHECKS, resources=resources)
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

        dry = polsearch(env, "backfill", "--stale", "--dry-run", "--url", url)
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.splitlines()[-1] == "dry run: 8 hearings would be backfilled"
        assert "checked 8/8 hearings for staleness" in dry.stderr


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
