"""Registering a hearing: its catalog entry and its dynamic partition (the ``register_hearings`` job, the
local commands)."""

from __future__ import annotations

from dataclasses import dataclass

import dagster as dg
from sqlalchemy.exc import IntegrityError

from polsearch_assets.core.catalog import HearingCatalog, HearingEntry
from polsearch_assets.core.sources.registry import resolve_source
from polsearch_assets.defs.hearing.partitions import hearings_partitions
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource


@dataclass(frozen=True)
class Registration:
    entry: HearingEntry
    new_partition: bool
    moved_from: str | None = None  # a local file registered before at another path


def register_hearing(
    instance: dg.DagsterInstance,
    store: ArtifactStoreResource,
    source: str,
    *,
    title: str | None = None,
    channel: str | None = None,
    published_date: str | None = None,
    committee: str | None = None,
) -> Registration:
    """Catalog entry + dynamic partition. The same source always gives the same key, once."""
    resolved = resolve_source(source)
    catalog = HearingCatalog(store)
    before = catalog.get(resolved.key)
    entry, _ = catalog.register(
        resolved, title=title, channel=channel, published_date=published_date, committee=committee
    )
    partitions = hearings_partitions.name
    new_partition = not instance.has_dynamic_partition(partitions, entry.key)
    if new_partition:
        try:
            instance.add_dynamic_partitions(partitions, [entry.key])
        except IntegrityError:  # registered by another process at the same moment
            new_partition = False
    moved_from = before.location if before is not None and before.location != entry.location else None
    return Registration(entry, new_partition, moved_from)
