"""Hearings from Python, in this process, recorded in this machine's instance (``DAGSTER_HOME``): register,
materialize, list, export and forget. The ``polsearch`` local commands are these with their printing.

```python
from polsearch_assets.local import hearings

registration = hearings.register("samples/sample_hearing/sample_hearing.wav", title="Bridge safety")
done = hearings.materialize(registration.entry.key)  # prints each step; done.success, done.run_id
```

Every function opens the local instance itself unless given one (``instance``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg

from polsearch_assets.config import Settings
from polsearch_assets.core.artifacts import (
    ArtifactStore,
    read_aligned_segments,
    read_diarization,
    read_speaker_names,
)
from polsearch_assets.core.index.export import export as render
from polsearch_assets.core.keys import validate_hearing_key
from polsearch_assets.defs.hearing.listing import hearing_rows
from polsearch_assets.defs.hearing.partitions import hearings_partitions
from polsearch_assets.defs.hearing.registration import Registration, register_hearing
from polsearch_assets.defs.hearing.runs import HearingBusy, hearing_lock, refuse_if_busy
from polsearch_assets.defs.platform.storage import configured_artifact_store
from polsearch_assets.local.instance import local_instance
from polsearch_assets.local.runs import bad_source_error, materialize_hearing, was_interrupted

__all__ = ["HearingBusy", "Materialized", "export", "forget", "list_hearings", "materialize", "register"]


@dataclass(frozen=True)
class Materialized:
    """How a local run of every asset of a hearing ended."""

    hearing: str
    run_id: str
    success: bool
    interrupted: bool  # SIGTERM or Ctrl-C stopped a step; the run ended FAILURE
    bad_source: str | None  # the cause, when the source cannot be a hearing (no re-run helps)


def _definitions() -> dg.Definitions:
    from polsearch_assets.definitions import defs  # the code location, models and all: only where needed

    return defs


def _artifact_store() -> ArtifactStore:
    """The artifact store alone, as the code location builds it: listing and export load no model code."""
    return configured_artifact_store(Settings.from_env())


def register(
    source: str,
    *,
    title: str | None = None,
    channel: str | None = None,
    published_date: str | None = None,
    committee: str | None = None,
    instance: dg.DagsterInstance | None = None,
) -> Registration:
    """The hearing's catalog entry and partition; the same source always gives the same key. Raises
    ValueError or FileNotFoundError for a source that cannot be a hearing."""
    return register_hearing(
        instance or local_instance(),
        _definitions().resources["artifact_store"],
        source,
        title=title,
        channel=channel,
        published_date=published_date,
        committee=committee,
    )


def materialize(
    hearing: str, *, emit: Callable[[str], None] = print, instance: dg.DagsterInstance | None = None
) -> Materialized:
    """Run every asset of the registered ``hearing`` (its key) in this process, ``emit``-ting its progress. Raises
    HearingBusy while another run or process works on it; KeyboardInterrupt when interrupted before the run
    could end by itself (the run is marked failed)."""
    instance = instance or local_instance()
    location_name = Settings.from_env().dagster_location
    with hearing_lock(instance, hearing):
        refuse_if_busy(instance, hearing)  # a run the daemon launched, or another ingest
        result = materialize_hearing(
            instance, _definitions(), hearing, location_name=location_name, emit=emit
        )
    return Materialized(
        hearing=hearing,
        run_id=result.run_id,
        success=result.success,
        interrupted=was_interrupted(instance, result.run_id),
        bad_source=None if result.success else bad_source_error(instance, result.run_id),
    )


def forget(hearing: str, *, instance: dg.DagsterInstance | None = None) -> None:
    """Remove a hearing everywhere: its index rows, its artifacts and catalog entry, then its partition (so
    nothing is left that points to what is gone). Refused (HearingBusy) while a run works on it; LookupError
    for an unknown key."""
    validate_hearing_key(hearing)
    instance = instance or local_instance()
    definitions = _definitions()
    store = definitions.resources["artifact_store"]
    partitions = hearings_partitions.name
    if not instance.has_dynamic_partition(partitions, hearing) and not store.list_artifacts(hearing):
        raise LookupError(f"no hearing {hearing}")
    refuse_if_busy(instance, hearing)
    definitions.resources["lance_index"].open().delete_hearing(hearing)
    store.delete_hearing(hearing)
    if instance.has_dynamic_partition(partitions, hearing):
        instance.delete_dynamic_partition(partitions, hearing)


def list_hearings(
    *, limit: int | None = None, after: str | None = None, instance: dg.DagsterInstance | None = None
) -> list[dict[str, Any]]:
    """Registered hearings by key (``after``: only keys sorting after it; ``limit``: at most this many), each
    its catalog entry and ``assets``: every hearing asset's state."""
    return hearing_rows(instance or local_instance(), _artifact_store(), after=after, limit=limit)


def export(hearing: str, fmt: str) -> str:
    """The hearing's aligned transcript as ``fmt`` (json, srt, vtt, txt; named speakers by name) or its
    diarization (rttm). FileNotFoundError when the hearing is not fully ingested."""
    store = _artifact_store()
    segments = read_aligned_segments(store, hearing)
    speakers = read_diarization(store, hearing, with_frames=False)
    try:
        names = {label: str(n.person) for label, n in read_speaker_names(store, hearing).named().items()}
    except FileNotFoundError:  # indexed before speakers were named: labels only
        names = {}
    return render(fmt, hearing, segments, speakers, names)
