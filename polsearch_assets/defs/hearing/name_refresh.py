"""Every hearing's speaker names and index rows follow the voiceprint library, whatever ran when and crashed.

``speaker_names`` records the library version it matched against (read with the voiceprints, at one
version), and ``hearing_index`` the version its rows' names follow. A hearing whose audio models have
written its diarization and aligned segments is *behind* when its ``speaker_names`` or ``hearing_index``
failed or was never made, or when its index rows follow another library version than the library's own.
Bringing it up to date re-runs only those two assets (no audio model runs). Two places do it:

* ``converge_names`` (the local ``speakers name``/``forget``/``refresh``): every hearing behind, one at a
  time under the hearing's lock; a hearing another process is refreshing or a run is working on is waited
  for and checked again once it ends (that run may have read the library before this change), until no
  hearing is behind. A refresh that fails is reported with its cause and left for the next command.
* the ``speaker_names_behind`` sensor (a deployment): what automation's backfill after a library change
  missed (a refresh that read the library just before a second change, one that crashed or failed) is
  requested again, once per hearing and library version.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import dagster as dg
from dagster._core.execution.backfill import BulkActionStatus

from polsearch_assets.core.artifacts import ALIGNED_SEGMENTS_JSON, DIARIZATION_JSON
from polsearch_assets.core.errors import cause_messages, step_error
from polsearch_assets.defs.hearing.partitions import hearings_partitions
from polsearch_assets.defs.hearing.runs import HearingBusy, active_runs, end_abandoned_runs, hearing_lock
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource
from polsearch_assets.defs.platform.index import LanceIndex

# What a refresh reads (the diarization's voices, the aligned segments); their models never run again.
_MODEL_INPUTS = (DIARIZATION_JSON, ALIGNED_SEGMENTS_JSON)
_REFRESHED = ("speaker_names", "hearing_index")
_POLL_S = 1.0
NO_VERSION = -1  # hearing_index rows named before the library version was recorded


def _states(instance: dg.DagsterInstance, keys: list[str]) -> dict[str, dict[str, str]]:
    states: dict[str, dict[str, str]] = {key: {} for key in keys}
    for asset in _REFRESHED:
        found = instance.get_status_by_partition(dg.AssetKey(asset), keys, hearings_partitions) or {}
        for key in keys:
            status = found.get(key)
            states[key][asset] = status.value.lower() if status else "missing"
    return states


def indexed_version(instance: dg.DagsterInstance, key: str) -> int | None:
    """The library version the hearing's index rows follow (None: never indexed)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("hearing_index"), asset_partitions=[key]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        return None
    recorded = records[0].asset_materialization.metadata.get("library_version")
    return int(recorded.value) if recorded is not None else NO_VERSION  # type: ignore[arg-type]


def hearings_behind(
    instance: dg.DagsterInstance, store: ArtifactStoreResource, version: int
) -> dict[str, str]:
    """Hearing -> why its names or index rows do not follow library ``version``, for each such hearing
    whose audio models have written what a refresh reads (a hearing not that far yet is named by its own
    run; one whose re-run was killed keeps its earlier diarization and segments, which its rows follow)."""
    keys = sorted(instance.get_dynamic_partitions(hearings_partitions.name))
    behind = {}
    for key, state in _states(instance, keys).items():
        if not all(store.exists(key, name) for name in _MODEL_INPUTS):
            continue
        if failed := [asset for asset in _REFRESHED if state[asset] == "failed"]:
            behind[key] = f"its last {'/'.join(failed)} failed"
        elif (indexed := indexed_version(instance, key)) is None:
            behind[key] = "not indexed"
        elif indexed != version:
            behind[key] = f"its names follow library version {indexed}, the library is at {version}"
    return behind


def run_failure(instance: dg.DagsterInstance, run_id: str) -> str:
    """A failed run's cause in one line: the first failed step's error (a storage fault by its name)."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        error = record.dagster_event.event_specific_data.error if record.dagster_event else None
        if error is not None:
            return f"[{record.step_key}] {step_error(error.message, cause_messages(error))}"
    run = instance.get_run_by_id(run_id)
    return f"run {run_id} ended {run.status.value if run else 'unknown'}"


def converge_names(
    instance: dg.DagsterInstance,
    store: ArtifactStoreResource,
    library_version: Callable[[], int],
    refresh: Callable[[str], bool],
    emit: Callable[[str], None],
    *,
    wait_s: float = 3600.0,
) -> list[str]:
    """Refresh (``refresh(key)``: True when it succeeded) every hearing behind the library until none is,
    waiting for hearings that another process or run is working on. The hearings refreshed."""
    refreshed: list[str] = []
    failed: set[str] = set()
    announced: set[str] = set()
    deadline = time.monotonic() + wait_s
    while True:
        waiting = []
        for key in hearings_behind(instance, store, library_version()):
            if key in failed:
                continue  # reported; the next command tries again
            try:
                with hearing_lock(instance, key):
                    if active_runs(instance, key):
                        waiting.append(key)
                        continue
                    ok = refresh(key)
            except HearingBusy:  # another polsearch process is ingesting or refreshing it
                waiting.append(key)
                continue
            refreshed.append(key)
            if not ok:
                failed.add(key)
        if not waiting:
            return refreshed
        if time.monotonic() > deadline:
            emit(
                f"hearings {', '.join(waiting)}: still busy after {wait_s:.0f} s; their names are brought up to "
                "date by the next `polsearch speakers refresh`"
            )
            return refreshed
        for key in sorted(set(waiting) - announced):
            emit(
                f"hearing {key}: another run is working on it; its names are checked again when it ends "
                "(Ctrl-C is safe: `polsearch speakers refresh` does it later)"
            )
        announced.update(waiting)
        time.sleep(_POLL_S)
        end_abandoned_runs(instance)  # a killed process's run would otherwise be waited for forever


# A library change is followed by automation's backfill within a tick or two; only what it missed is asked
# for here (two of its ticks later), so the two never run the same refresh twice.
_BEHIND_GRACE_S = 90


@dg.sensor(
    name="speaker_names_behind",
    job_name="speaker_names_refresh",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Re-runs speaker_names and hearing_index of hearings whose names do not follow the voiceprint "
    "library's current version (a refresh that read the library before a later change, or that failed or "
    "crashed); automation's backfill after each change does the rest.",
)
def speaker_names_behind(
    context: dg.SensorEvaluationContext, artifact_store: ArtifactStoreResource, lance_index: LanceIndex
) -> dg.SensorResult:
    instance = context.instance
    changes = instance.fetch_materializations(dg.AssetKey("voiceprint_library"), limit=1).records
    if changes and datetime.now(UTC).timestamp() - changes[0].timestamp < _BEHIND_GRACE_S:
        return dg.SensorResult(
            skip_reason="the library changed moments ago: automation's backfill follows it"
        )
    if any(
        dg.AssetKey("speaker_names") in (backfill.asset_selection or [])
        for backfill in instance.get_backfills(status=BulkActionStatus.REQUESTED)
    ):
        return dg.SensorResult(skip_reason="a backfill is refreshing speaker names")
    version = lance_index.library().version()
    requests = []
    for key, reason in hearings_behind(instance, artifact_store, version).items():
        if active_runs(instance, key):
            continue  # its run may name it; checked again next tick
        context.log.info(f"hearing {key}: {reason}; refreshing its names")
        requests.append(
            dg.RunRequest(
                run_key=f"{key}@{version}",  # once per hearing and library version: a failing one is not looped
                partition_key=key,
                tags={"polsearch/trigger": "speaker-names-behind"},
            )
        )
    return dg.SensorResult(
        run_requests=requests, skip_reason=None if requests else "every hearing follows the library"
    )
