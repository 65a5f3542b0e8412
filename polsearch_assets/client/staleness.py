"""Which of a hearing's assets are stale, decided from their latest materializations' provenance tags.

Dagster's own answer (``staleStatusByPartition``) is computed partition by partition on the webserver, each
asking the event log about every partition of the asset: seconds per hearing in a large archive. The same
rule applied here to materializations fetched in bulk (``latestMaterializationByPartition`` with their tags)
costs one event per asset and hearing. The rule is Dagster's (1.13, ``CachingStaleStatusResolver``), for a
graph like polsearch's (partitioned deps share the hearing's partition key; no external or virtual assets):
a materialized asset is stale when

* its code version is not the one its latest materialization recorded (``dagster/code_version``),
* it recorded an input that is no longer a dependency, or lacks a dependency's data version or event pointer,
* a dependency has data newer than what it read: the dependency's current data version differs from the
  ``dagster/input_data_version/<dep>`` it recorded (for a partitioned dependency, only when it has a
  materialization, and a run records the SHA-256 of the data versions of the partitions it read — one here —
  not the version itself: see ``partition_input_version``; so this is Dagster's "a newer record with another
  data version than the one at the pointer"),
* or, with no provenance recorded at all, a dependency is missing or was materialized later.

Staleness does not pass through: an asset whose upstream is stale is not stale itself, as in Dagster.
``polsearch_assets_tests/e2e/test_archive_api.py`` checks the two agree hearing by hearing and asset by asset.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

CODE_VERSION = "dagster/code_version"
DATA_VERSION = ("dagster/data_version", "dagster/logical_version")  # the current tag, then the old one
INPUT_DATA_VERSION = ("dagster/input_data_version/", "dagster/input_logical_version/")
INPUT_EVENT_POINTER = "dagster/input_event_pointer/"
_INPUT = "dagster/input_"  # what every input tag begins with
NULL_POINTER = "NULL"
DEFAULT_VERSION = "INITIAL"  # a materialization that recorded no data version
NULL_VERSION = "NULL"  # no materialization


@dataclass(frozen=True)
class AssetNode:
    """What the server says about an asset: its current code version and dependencies."""

    name: str
    code_version: str | None
    deps: tuple[str, ...]
    partitioned: bool


@dataclass(frozen=True)
class Materialization:
    timestamp_ms: float
    tags: Mapping[str, str]

    # Both read once per materialization and kept (a plain dict entry: functools.cached_property takes a
    # lock on every read in Python 3.11, a third of the rule's time at 30,000 hearings).
    @property
    def data_version(self) -> str:
        found = self.__dict__.get("_data_version")
        if found is None:
            found = next((self.tags[t] for t in DATA_VERSION if t in self.tags), DEFAULT_VERSION)
            self.__dict__["_data_version"] = found
        return found

    @property
    def inputs(self) -> dict[str, str]:
        """Each input's recorded data version, by the input's name."""
        found = self.__dict__.get("_inputs")
        if found is None:
            found = {}
            for key, value in self.tags.items():
                if key.startswith(_INPUT):
                    for prefix in INPUT_DATA_VERSION:
                        if key.startswith(prefix):
                            found[key[len(prefix) :]] = value
            self.__dict__["_inputs"] = found
        return found

    @property
    def input_version(self) -> str:
        """What a run that read this (partitioned) materialization records as its input data version."""
        found = self.__dict__.get("_input_version")
        if found is None:
            found = partition_input_version(self.data_version)
            self.__dict__["_input_version"] = found
        return found


def partition_input_version(data_version: str) -> str:
    """What a run records as ``dagster/input_data_version/<dep>`` for a partitioned dependency whose one
    partition it read has ``data_version``: Dagster hashes the partitions' data versions, even for one."""
    return sha256(data_version.encode()).hexdigest()


def asset_nodes(nodes: Sequence[Mapping[str, Any]]) -> dict[str, AssetNode]:
    """``assetNodes { assetKey opVersion isPartitioned dependencyKeys }`` by asset name."""
    return {
        "/".join(n["assetKey"]["path"]): AssetNode(
            name="/".join(n["assetKey"]["path"]),
            code_version=n["opVersion"],
            deps=tuple("/".join(d["path"]) for d in n["dependencyKeys"]),
            partitioned=n["isPartitioned"],
        )
        for n in nodes
    }


def materialization(event: Mapping[str, Any] | None) -> Materialization | None:
    """A ``MaterializationEvent { timestamp tags { key value } }`` answer."""
    if event is None:
        return None
    return Materialization(float(event["timestamp"]), {t["key"]: t["value"] for t in event["tags"]})


def is_stale(
    node: AssetNode,
    latest: Materialization | None,
    current: Callable[[str], Materialization | None],
    graph: Mapping[str, AssetNode],
) -> bool:
    """Whether ``node``'s ``latest`` materialization (None: missing, never stale) is stale, ``current(dep)``
    being each dependency's latest materialization for the same hearing (or the whole asset's)."""
    if latest is None:
        return False
    tags = latest.tags
    if CODE_VERSION not in tags:  # no provenance: Dagster compares materialization times
        return any(
            (dep_latest := current(dep)) is None or dep_latest.timestamp_ms > latest.timestamp_ms
            for dep in node.deps
        )
    if node.code_version and node.code_version != tags[CODE_VERSION]:
        return True
    inputs = latest.inputs
    if set(inputs) - set(node.deps):
        return True
    for dep in node.deps:
        pointer = tags.get(INPUT_EVENT_POINTER + dep)
        if dep not in inputs or pointer is None:
            return True
        dep_latest = current(dep)
        if graph[dep].partitioned:
            if pointer != NULL_POINTER and dep_latest is not None and dep_latest.input_version != inputs[dep]:
                return True
        else:
            now = NULL_VERSION if dep_latest is None else dep_latest.data_version
            if inputs[dep] != now and not (inputs[dep] == DEFAULT_VERSION and now == NULL_VERSION):
                return True
    return False


def stale_in(
    name: str,
    keys: Iterable[str],
    latest: Mapping[str, Mapping[str, Materialization | None]],
    graph: Mapping[str, AssetNode],
    whole: Mapping[str, Materialization | None],
) -> set[str]:
    """Those of ``keys`` (hearings) whose asset ``name`` is stale, ``latest[asset][key]`` being each
    partitioned asset's latest materialization of the hearing (absent or None: missing) and ``whole[asset]``
    each unpartitioned asset's. The client and the ``stale_hearings`` sensor both decide with it."""
    node = graph[name]
    own = latest.get(name, {})
    # Each dependency's lookup by hearing (or the whole asset's materialization), built once, not per hearing.
    lookup: dict[str, Callable[[str], Materialization | None]] = {
        dep: latest.get(dep, {}).get if graph[dep].partitioned else _always(whole.get(dep))
        for dep in node.deps
    }
    found = set()
    for key in keys:
        if is_stale(node, own.get(key), lambda dep, key=key: lookup[dep](key), graph):
            found.add(key)
    return found


def _always(found: Materialization | None) -> Callable[[str], Materialization | None]:
    return lambda _key: found


def first_stale(
    keys: Sequence[str],
    assets: Sequence[str],
    latest: Mapping[str, Mapping[str, Materialization | None]],
    graph: Mapping[str, AssetNode],
    whole: Mapping[str, Materialization | None],
) -> dict[str, set[str]]:
    """Asset -> the hearings of ``keys`` whose first stale asset (in the graph order ``assets``) it is."""
    first: dict[str, set[str]] = {}
    stale: set[str] = set()
    for name in assets:
        asked = [k for k in keys if k not in stale and k in latest.get(name, {})]
        if found := stale_in(name, asked, latest, graph, whole):
            first[name] = found
            stale |= found
    return first
