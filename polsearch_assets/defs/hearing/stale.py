"""Which hearings are stale, decided inside the code location from a provenance cache: ``backfill --stale``
at 30,000 hearings in seconds.

Through GraphQL a client reads one materialization event per asset and hearing (Dagster deserializes each:
30-60 CPU s of the webserver at 30,000 hearings, BENCHMARKS.md). Here, next to the instance, each asset's
latest storage id per hearing is one query (``get_latest_storage_id_by_partition``), and the rule's tags of
each latest event are kept in a cache keyed by storage id (``client/provenance.py``), one value per asset in
the instance's key-value store: only events not seen before are read, and of those only the stored JSON's
tags and time (``materialization_reader``: Dagster's readers deserialize the whole event, and its tag index
holds the data version alone). The rule is the client's (``client/staleness.py``), which
``e2e/test_archive_api.py`` pins to Dagster's ``staleStatusByPartition``.

The ``stale_hearings`` sensor answers it (running by default, every 5 minutes, so a deployment's cache stays
warm):

* each evaluation reads new events for at most ``POLSEARCH_STALE_BUDGET_S`` seconds (always one batch), so a
  cold cache (about 220,000 events at 30,000 hearings) is filled over several evaluations, none of them near
  the client's 30 s timeout; its cursor says how far it is (``complete``, ``read``, ``left``, ``unchecked``);
* once the cache is complete and the cursor it was given asks for the plan (``{"want": "plan", "max": N}``:
  ``polsearch backfill --stale`` through ``sensorDryRun``), the cursor it returns carries the plan: each
  stale hearing under its first stale asset (that asset and everything after it run). It returns no run
  request and its cursor never asks for the plan, so under the daemon it only keeps the cache warm.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg
import sqlalchemy as sa
from dagster._core.events import DagsterEventType  # what get_latest_storage_id_by_partition takes
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

from polsearch_assets.client.models import stale_plan
from polsearch_assets.client.provenance import AssetProvenance
from polsearch_assets.client.staleness import AssetNode, Materialization, first_stale
from polsearch_assets.config import Settings
from polsearch_assets.core.contracts import HEARING_ASSETS
from polsearch_assets.defs.hearing.partitions import hearings_partitions

if TYPE_CHECKING:
    from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph

CACHE_KEY = "polsearch/provenance/"  # + the asset's name: one key-value entry per asset
BATCH = 5000  # events read per query (a connection each: fewer is cheaper; ~0.1 s of reading)


def cache_key(asset: str) -> str:
    return CACHE_KEY + asset


def asset_nodes_of(
    asset_graph: BaseAssetGraph, names: tuple[str, ...] = HEARING_ASSETS
) -> dict[str, AssetNode]:
    """What the rule needs of ``names`` and the assets they depend on: as ``assetNodes`` tells the client."""
    nodes: dict[str, AssetNode] = {}
    todo = [dg.AssetKey(name) for name in names]
    while todo:
        key = todo.pop()
        if key.to_user_string() in nodes:
            continue
        node = asset_graph.get(key)
        nodes[key.to_user_string()] = AssetNode(
            name=key.to_user_string(),
            code_version=node.code_version,
            deps=tuple(parent.to_user_string() for parent in sorted(node.parent_keys)),
            partitioned=node.partitions_def is not None,
        )
        todo.extend(node.parent_keys)
    return nodes


@dataclass(frozen=True)
class Provenance:
    """Each asset's latest materialization per hearing, as far as the cache has them."""

    latest: dict[str, dict[str, Materialization]]
    read: int  # events read in this call
    left: int  # latest events of the assets checked not read yet
    unchecked: int = 0  # assets not looked at in this call (its time was up)

    @property
    def complete(self) -> bool:
        return self.left == 0 and self.unchecked == 0


Read = tuple[str, int, float, Mapping[str, str]]  # hearing, storage id, time (ms), tags


@contextmanager
def materialization_reader(
    instance: dg.DagsterInstance,
) -> Iterator[Callable[[str, Sequence[int]], list[Read]]]:
    """A reader of (hearing, storage id, time in ms, tags) of partitioned materializations of an asset, by
    storage id.

    Dagster has no public reader of an event's tags short of the whole event: ``fetch_materializations``
    deserializes every object in it (0.16 CPU ms an event: most of a cold cache's fill), and its tag index
    (``asset_event_tags``, ``get_latest_tags_by_partition``) holds only ``dagster/data_version``, not the code
    version and inputs the rule reads. So on a SQL event log (SQLite, Postgres) the stored JSON is read, on one
    connection for every batch (Dagster's Postgres storage opens a new one per ``index_connection``), and only
    the tags and the time are taken from it; another event log is read through Dagster. Nothing else may ask
    the event log while the reader is open: Dagster's SQLite storage holds a lock per connection.
    """
    storage = instance.event_log_storage
    if not isinstance(storage, SqlEventLogStorage):
        yield lambda asset, storage_ids: read_through_dagster(instance, asset, storage_ids)
        return
    with storage.index_connection() as conn:
        yield lambda asset, storage_ids: read_stored_events(conn, asset, storage_ids)


def read_through_dagster(instance: dg.DagsterInstance, asset: str, storage_ids: Sequence[int]) -> list[Read]:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), storage_ids=list(storage_ids)),
        limit=len(storage_ids),
    ).records
    return [
        (r.partition_key, r.storage_id, r.timestamp * 1000, r.asset_materialization.tags or {})
        for r in records
        if r.asset_materialization is not None and r.partition_key is not None
    ]


# The stored JSON of a materialization, as Dagster 1.13's serdes writes it (keys sorted): the materialization's
# tags are its last field, closed by the step data's brace and followed by the event's type; the entry's own
# time comes near its end. A quote inside a string is escaped, so these can only match the JSON's own keys.
_TAGS = '"tags": '
_AFTER_TAGS = '}}, "event_type_value": "ASSET_MATERIALIZATION"'
_TIMESTAMP = '"timestamp": '
_decoder = json.JSONDecoder()


def tags_and_time(text: str) -> tuple[Mapping[str, str], float]:
    """The materialization's tags and the entry's time (s) from its stored JSON: parsing only those two values
    (``json.loads`` of whole events was a fifth of a cold fill, and a run's events carry their metadata before
    the tags), or, when the text does not end as ``_AFTER_TAGS`` says, the whole event."""
    found = tags_and_time_from_the_end(text)
    if found is None:
        event = json.loads(text)  # an EventLogEntry as Dagster serialized it
        found = (
            event["dagster_event"]["event_specific_data"]["materialization"]["tags"] or {},
            event["timestamp"],
        )
    return found


def tags_and_time_from_the_end(text: str) -> tuple[Mapping[str, str], float] | None:
    start = text.rfind(_TAGS)
    at = text.rfind(_TIMESTAMP)
    if not 0 <= start < at:
        return None
    try:
        tags, end = _decoder.raw_decode(text, start + len(_TAGS))
        timestamp, _ = _decoder.raw_decode(text, at + len(_TIMESTAMP))
    except json.JSONDecodeError:
        return None
    if (
        not text.startswith(_AFTER_TAGS, end)
        or not isinstance(tags, dict | None)
        or type(timestamp) is not float
    ):
        return None
    return tags or {}, timestamp


def read_stored_events(conn: sa.Connection, asset: str, storage_ids: Sequence[int]) -> list[Read]:
    """``read_through_dagster``'s answer from the events' JSON on a connection to the event log's index
    (``test_provenance_cache`` pins the two equal)."""
    if not storage_ids:
        return []
    table = SqlEventLogStorageTable
    # By id alone (with the asset's key in the query too, SQLite scans the asset's index range every batch),
    # the ids written into the statement: SQLAlchemy binding 2,000 parameters costs more than the read.
    ids = ",".join(str(int(i)) for i in storage_ids)
    query = sa.select(
        table.c.id, table.c.partition, table.c.event, table.c.asset_key, table.c.dagster_event_type
    ).where(sa.text(f"{table.name}.id IN ({ids})"))
    rows = conn.execute(query).fetchall()
    wanted = (dg.AssetKey(asset).to_string(), DagsterEventType.ASSET_MATERIALIZATION.value)
    found: list[Read] = []
    for storage_id, partition, text, *kind in rows:
        if partition is not None and tuple(kind) == wanted:
            tags, timestamp = tags_and_time(text)
            found.append((partition, storage_id, timestamp * 1000, tags))
    return found


def refresh_provenance(
    instance: dg.DagsterInstance,
    assets: tuple[str, ...],
    budget_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> Provenance:
    """The cache of each asset brought up to date with the instance, reading new events for about
    ``budget_s`` seconds (at least one batch) and storing what was read.

    Asset by asset in order; once something was read and the time is up, the assets not reached yet are
    not even looked at (their caches are not loaded), so an answer that fills a cold cache costs the budget
    and about one asset's cache, not all eight. Only a call that reads nothing new checks every asset.
    """
    deadline = clock() + budget_s
    latest: dict[str, dict[str, Materialization]] = {}
    read = left = 0
    for i, asset in enumerate(assets):
        if read and clock() >= deadline:
            return Provenance(latest, read, left, unchecked=len(assets) - i)
        key = cache_key(asset)
        cache = AssetProvenance.decode(instance.run_storage.get_cursor_values({key}).get(key))
        before = len(cache.entries)
        ids = instance.get_latest_storage_id_by_partition(
            dg.AssetKey(asset), DagsterEventType.ASSET_MATERIALIZATION
        )
        pending = sorted(cache.to_read(ids).values())
        changed = len(cache.entries) != before
        done = 0
        # Nothing else asks the storage while its connection is held: Dagster's SQLite storage locks per connection.
        with materialization_reader(instance) as read_events:
            while done < len(pending) and (read == 0 or clock() < deadline):
                batch = pending[done : done + BATCH]
                for partition, storage_id, timestamp_ms, tags in read_events(asset, batch):
                    cache.add(partition, storage_id, timestamp_ms, tags)
                done += len(batch)
                read += len(batch)
                changed = True
        left += len(pending) - done
        if changed:
            instance.run_storage.set_cursor_values({key: cache.encode()})
        latest[asset] = cache.latest()
    return Provenance(latest, read, left)


def forget_provenance(instance: dg.DagsterInstance, assets: tuple[str, ...] = HEARING_ASSETS) -> None:
    """Empty the cache (the next evaluations read every latest event again)."""
    instance.run_storage.set_cursor_values({cache_key(a): "" for a in assets})


def _whole(instance: dg.DagsterInstance, graph: Mapping[str, AssetNode]) -> dict[str, Materialization | None]:
    """The latest materialization of each unpartitioned asset in ``graph`` (the voiceprint library)."""
    whole: dict[str, Materialization | None] = {}
    for name, node in graph.items():
        if node.partitioned:
            continue
        records = instance.fetch_materializations(dg.AssetKey(name), limit=1).records
        found = records[0].asset_materialization if records else None
        whole[name] = Materialization(records[0].timestamp * 1000, dict(found.tags or {})) if found else None
    return whole


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector off for the block: the caches hold about 220,000 small dicts at 30,000 hearings,
    none in a cycle, and their allocation kept triggering collections that walk every live object again (a
    third of a cold fill's CPU, a fifth of a warm answer's). What the block leaves in cycles is collected
    after it."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass(frozen=True)
class StalePlan:
    provenance: Provenance
    hearings: int  # registered
    plan: dict[str, list[str]] | None  # hearing -> assets to run, sorted by key; None until complete


def plan_stale(
    instance: dg.DagsterInstance,
    asset_graph: BaseAssetGraph,
    budget_s: float,
    limit: int | None = None,
) -> StalePlan:
    """The stale hearings of ``instance`` (the first ``limit`` by key) with the assets to run, once the
    provenance cache is complete; else how far this call brought it."""
    graph = asset_nodes_of(asset_graph)
    with cyclic_gc_paused():
        provenance = refresh_provenance(instance, HEARING_ASSETS, budget_s)
        keys = sorted(instance.get_dynamic_partitions(hearings_partitions.name))
        if not provenance.complete:
            return StalePlan(provenance, len(keys), None)
        first = first_stale(keys, HEARING_ASSETS, provenance.latest, graph, _whole(instance, graph))
    chosen = stale_plan(keys, first)
    picked = sorted(chosen)[:limit] if limit is not None else sorted(chosen)
    return StalePlan(provenance, len(keys), {k: chosen[k] for k in picked})


def _request(cursor: str | None) -> dict[str, Any]:
    """What the cursor asks: ``{"want": "plan", "max": N}`` from the client; anything else asks nothing."""
    try:
        asked = json.loads(cursor or "{}")
    except json.JSONDecodeError:
        return {}
    return asked if isinstance(asked, dict) else {}


def by_first_stale_asset(plan: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The plan as first stale asset -> hearings (each runs that asset and everything after it): a few
    hundred kilobytes for 30,000 stale hearings, where one run request per hearing costs the webserver
    about 0.4 ms each to deserialize and serve."""
    grouped: dict[str, list[str]] = {}
    for key, assets in plan.items():
        grouped.setdefault(assets[0], []).append(key)
    return grouped


def stale_hearings_sensor(settings: Settings) -> dg.SensorDefinition:
    @dg.sensor(
        name="stale_hearings",
        minimum_interval_seconds=300,
        # Running keeps the cache warm, so `--stale` never pays a cold fill on a live deployment.
        default_status=dg.DefaultSensorStatus.RUNNING,
        metadata={"budget_s": settings.stale_budget_s},  # POLSEARCH_STALE_BUDGET_S, shown in the UI
        description="Keeps the provenance cache that `polsearch backfill --stale` decides staleness from "
        "up to date (each tick reads the materializations new since the last); launches nothing. The CLI "
        "asks it for the stale hearings through a dry run.",
    )
    def stale_hearings(
        context: dg.SensorEvaluationContext,
    ) -> dg.SkipReason | dg.SensorResult:
        asked = _request(context.cursor)
        limit = asked.get("max") if asked.get("want") == "plan" else None
        found = plan_stale(
            context.instance,
            context.repository_def.asset_graph,  # type: ignore[union-attr]  # a code location's sensor has one
            settings.stale_budget_s,
            limit=int(limit) if limit else None,
        )
        state: dict[str, Any] = {
            "complete": found.provenance.complete,
            "read": found.provenance.read,
            "left": found.provenance.left,
            "unchecked": found.provenance.unchecked,
            "hearings": found.hearings,
            "stale": None if found.plan is None else len(found.plan),
        }
        if found.plan is None:
            message = f"provenance cache: read {state['read']} events, {state['left']} more to read" + (
                f" and {state['unchecked']} assets not checked yet" if state["unchecked"] else ""
            )
        else:
            message = f"{state['stale']} stale hearings of {found.hearings} (polsearch backfill --stale)"
            if asked.get("want") == "plan":  # a dry run's answer; never asked by a daemon tick's cursor
                state["plan"] = by_first_stale_asset(found.plan)
        return dg.SensorResult(skip_reason=dg.SkipReason(message), cursor=json.dumps(state))

    return stale_hearings
