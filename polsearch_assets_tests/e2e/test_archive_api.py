"""Backfill planning against a real ``dagster-webserver`` on an archive recorded without running models: the
staleness question is asked a page of hearings at a time, only about hearings that were run, and stops at --max."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from polsearch_assets.client import DagsterApi
from polsearch_assets.client import api as api_module
from polsearch_assets.defs.hearing.checks import HEARING_CHECKS
from polsearch_assets.local.instance import LOCAL_DAGSTER_YAML
from polsearch_assets_tests.fixtures.archive import record_archive_hearings
from polsearch_assets_tests.fixtures.hearing import assets_for, hearing_resources
from polsearch_assets_tests.fixtures.processes import dagster_dev, polsearch

pytestmark = pytest.mark.slow  # a real webserver: seconds to start

KEYS = [f"hearing-{i}" for i in range(6)]
OLD_MODEL = {key: {"transcript": "transcript-v0"} for key in KEYS[1::2]}  # transcribed by an older model


def test_stale_hearings_are_found_page_by_page_and_max_stops_the_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(LOCAL_DAGSTER_YAML.read_text())
    resources = hearing_resources(tmp_path)
    defs = dg.Definitions(assets=assets_for(resources), asset_checks=HEARING_CHECKS, resources=resources)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        record_archive_hearings(instance, defs, KEYS, code_versions=OLD_MODEL)
        instance.add_dynamic_partitions(
            "hearings", ["hearing-new"]
        )  # registered, never run: missing, not stale
    env = {**os.environ, "DAGSTER_HOME": str(home), "POLSEARCH_HOME": str(tmp_path / "polsearch")}
    monkeypatch.setattr(api_module, "STALE_PAGE", 2)

    with dagster_dev(home, env, daemon=False, timeout_s=180) as url:
        api, asked = DagsterApi(url=url), []
        plan = api.plan_backfill("stale", progress=lambda done, of: asked.append((done, of)))
        assert plan.keys == sorted(OLD_MODEL)
        assert all(plan.assets_by_key[key][0] == "transcript" for key in plan.keys)
        assert asked == [(2, 6), (4, 6), (6, 6)]  # three pages, and never about hearing-new

        asked.clear()
        first = api.plan_backfill("stale", limit=1, progress=lambda done, of: asked.append((done, of)))
        assert first.keys == ["hearing-1"] and asked == [(2, 6)]  # found on the first page: asks no more

        dry = polsearch(env, "backfill", "--stale", "--dry-run", "--url", url)
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.splitlines()[-1] == "dry run: 3 hearings would be backfilled"
        assert "checked 6/6 hearings for staleness" in dry.stderr
