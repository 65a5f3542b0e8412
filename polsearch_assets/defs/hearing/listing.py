"""``polsearch hearings``: the registered hearings, each with its assets' states and its catalog entry.

Costs a fixed number of instance queries, whatever the number of hearings: the keys once, one partition
status read per asset, and the catalog entries in one pass (no existence check per hearing).
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from dagster._core.instance.types import CachingDynamicPartitionsLoader
from dagster._core.storage.partition_status_cache import get_and_update_asset_status_cache_value

from polsearch_assets.core.artifacts import ArtifactStore
from polsearch_assets.core.catalog import HearingCatalog
from polsearch_assets.core.contracts import HEARING_ASSETS
from polsearch_assets.defs.hearing.partitions import hearings_partitions


def asset_states(instance: dg.DagsterInstance, hearing_keys: list[str]) -> dict[str, dict[str, str]]:
    """hearing -> asset -> materialized | failed | in_progress | missing, from each asset's partition
    status cache. The hearing keys are loaded once for all of them (``get_status_by_partition`` loads them
    twice per asset, which at 30,000 hearings cost more than the statuses)."""
    loader = CachingDynamicPartitionsLoader(instance)
    states: dict[str, dict[str, str]] = {key: {} for key in hearing_keys}
    with dg.partition_loading_context(dynamic_partitions_store=loader):
        for name in HEARING_ASSETS:
            cached = get_and_update_asset_status_cache_value(
                instance, dg.AssetKey(name), hearings_partitions, dynamic_partitions_loader=loader
            )
            subsets = (
                (
                    ("in_progress", cached.deserialize_in_progress_partition_subsets(hearings_partitions)),
                    ("failed", cached.deserialize_failed_partition_subsets(hearings_partitions)),
                    ("materialized", cached.deserialize_materialized_partition_subsets(hearings_partitions)),
                )
                if cached
                else ()
            )
            for key in hearing_keys:
                states[key][name] = next((state for state, keys in subsets if key in keys), "missing")
    return states


def hearing_rows(
    instance: dg.DagsterInstance, store: ArtifactStore, *, after: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """A page of registered hearings by key (those after ``after``, at most ``limit``): each catalog entry
    (or only its key, when it has none) with ``assets``."""
    keys = sorted(
        key
        for key in instance.get_dynamic_partitions(hearings_partitions.name)
        if after is None or key > after
    )[:limit]
    states = asset_states(instance, keys)
    entries = HearingCatalog(store).get_many(keys)
    return [
        {**(entries[key].to_json() if key in entries else {"key": key, "source": None, "title": None}),
         "assets": states[key]}
        for key in keys
    ]  # fmt: skip
