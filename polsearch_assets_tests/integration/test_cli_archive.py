"""``polsearch hearings`` pages through an archive by key (a page costs the hearings on it), and its bulk
reads (statuses per asset, catalog entries in one pass) list exactly what asking hearing by hearing does."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from polsearch_assets.core.catalog import HearingCatalog, HearingEntry
from polsearch_assets.core.contracts import HEARING_ASSETS
from polsearch_assets.defs.hearing.checks import HEARING_CHECKS
from polsearch_assets.defs.hearing.partitions import hearings_partitions
from polsearch_assets_tests.fixtures.archive import record_archive_hearings
from polsearch_assets_tests.fixtures.hearing import assets_for, hearing_resources
from polsearch_assets_tests.fixtures.processes import polsearch

pytestmark = pytest.mark.slow  # fresh interpreters running the CLI


def test_hearings_come_in_pages_by_key(tmp_path: Path, cli_env: dict[str, str]) -> None:
    resources = hearing_resources(tmp_path)
    defs = dg.Definitions(assets=assets_for(resources), asset_checks=HEARING_CHECKS, resources=resources)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(cli_env["DAGSTER_HOME"])) as instance:
        record_archive_hearings(
            instance, defs, [f"hearing-{i}" for i in range(5)], failed={"hearing-3": "transcript"}
        )
        instance.add_dynamic_partitions("hearings", ["hearing-5"])  # registered by hand: no catalog entry
        catalog = HearingCatalog(resources["artifact_store"])
        for i in range(4):  # hearing-4 and hearing-5 have no entry
            url = f"https://example.org/{i}.mp3"
            catalog.put(HearingEntry(f"hearing-{i}", url, "url", url, title=f"Oversight {i}"))
        # What the listing said hearing by hearing before it read in bulk.
        slow = []
        for key in [f"hearing-{i}" for i in range(6)]:
            entry = catalog.get(key)
            statuses = {
                name: instance.get_status_by_partition(dg.AssetKey(name), [key], hearings_partitions)[key]
                for name in HEARING_ASSETS
            }
            slow.append(
                {**(entry.to_json() if entry else {"key": key, "source": None, "title": None}),
                 "assets": {name: s.value.lower() if s else "missing" for name, s in statuses.items()}}
            )  # fmt: skip

    assert json.loads(polsearch(cli_env, "hearings", "--json").stdout) == slow

    first = json.loads(polsearch(cli_env, "hearings", "--json", "--limit", "2").stdout)
    assert [row["key"] for row in first] == ["hearing-0", "hearing-1"]
    assert set(first[0]["assets"].values()) == {"materialized"}
    rest = json.loads(polsearch(cli_env, "hearings", "--json", "--after", first[-1]["key"]).stdout)
    assert [row["key"] for row in rest] == ["hearing-2", "hearing-3", "hearing-4", "hearing-5"]
    table = polsearch(cli_env, "hearings", "--limit", "1", "--after", "hearing-3").stdout.splitlines()
    assert len(table) == 2 and table[1].startswith("hearing-4\t")
