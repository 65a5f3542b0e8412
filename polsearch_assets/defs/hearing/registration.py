"""Registering, ingesting and listing hearings against a Dagster instance."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
from sqlalchemy.exc import IntegrityError

from polsearch_assets.core.catalog import HearingCatalog, HearingEntry
from polsearch_assets.core.errors import cause_messages, step_error
from polsearch_assets.core.index.segments import SegmentIndex
from polsearch_assets.core.keys import resolve_source, validate_hearing_key
from polsearch_assets.core.text import for_display
from polsearch_assets.defs.hearing.audio import BAD_SOURCE
from polsearch_assets.defs.hearing.name_refresh import converge_names, run_failure
from polsearch_assets.defs.hearing.partitions import hearings_partitions
from polsearch_assets.defs.hearing.runs import owner_tags, refuse_if_busy
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource
from polsearch_assets.defs.platform.local_runs import execute_locally

_PROGRESS_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_UP_FOR_RETRY,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
}


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


def forget_hearing(
    instance: dg.DagsterInstance, store: ArtifactStoreResource, index: SegmentIndex, key: str
) -> None:
    """Remove a hearing everywhere: its index rows, its artifacts and catalog entry, then its partition (so
    nothing is left that points to what is gone). Refused while a run works on it."""
    validate_hearing_key(key)
    if not instance.has_dynamic_partition(hearings_partitions.name, key) and not store.list_artifacts(key):
        raise LookupError(f"no hearing {key}")
    refuse_if_busy(instance, key)
    index.delete_hearing(key)
    store.delete_hearing(key)
    if instance.has_dynamic_partition(hearings_partitions.name, key):
        instance.delete_dynamic_partition(hearings_partitions.name, key)


def _format_event(record: dg.EventLogEntry, check_steps: set[str]) -> str | None:
    event = record.dagster_event
    step = record.step_key or "run"
    if event is None:
        return f"  {step}: {record.user_message}" if record.level >= logging.INFO else None
    if event.event_type == dg.DagsterEventType.STEP_START:
        return None if step in check_steps else f"[{step}] started"  # a check reports its outcome instead
    if event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY:
        return f"[{step}] transient failure, retrying: {event.event_specific_data.error.message.strip()}"
    if event.event_type == dg.DagsterEventType.STEP_FAILURE:
        error = event.event_specific_data.error
        return f"[{step}] FAILED: {step_error(error.message, cause_messages(error)) if error else 'unknown error'}"
    if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
        return f"[{step}] materialized"
    if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
        check = event.asset_check_evaluation_data
        outcome = "passed" if check.passed else f"FAILED ({check.severity.value}): {check.description}"
        return f"[{check.asset_key.to_user_string()}] check {check.check_name} {outcome}"
    return None


def _follow_run(
    instance: dg.DagsterInstance,
    run_id: str,
    emit: Callable[[str], None],
    done: threading.Event,
    check_steps: set[str],
) -> None:
    cursor: str | None = None
    while True:
        finished = done.is_set()  # read before fetching, so the last events are never missed
        connection = instance.get_records_for_run(run_id, cursor=cursor)
        cursor = connection.cursor if connection.records else cursor
        for record in connection.records:
            entry = record.event_log_entry
            if entry.dagster_event is None or entry.dagster_event.event_type in _PROGRESS_EVENTS:
                line = _format_event(entry, check_steps)
                if line:
                    emit(for_display(line))  # messages carry titles and errors from outside
        if connection.has_more:
            continue
        if finished:
            return
        done.wait(0.3)


def materialize_hearing(
    instance: dg.DagsterInstance,
    definitions: dg.Definitions,
    key: str,
    *,
    location_name: str,
    emit: Callable[[str], None] = print,
) -> dg.JobExecutionResult:
    """Run every asset of the hearing in this process, recording the run in ``instance`` as a run of the
    code location's ``hearing_pipeline`` (``location_name``), so the UI shows it under that job.

    SIGTERM is handled like Ctrl-C (Dagster maps one to the other while it executes): the step
    stops, is never retried, its ffmpeg child is killed, and the run ends FAILURE
    (``was_interrupted`` tells it apart).
    """
    run_id = str(uuid.uuid4())
    done = threading.Event()
    layer = definitions.resolve_job_def("hearing_pipeline").asset_layer
    check_steps = {layer.get_op_output_handle(k).node_handle.name for k in layer.asset_graph.asset_check_keys}
    follower = threading.Thread(
        target=_follow_run, args=(instance, run_id, emit, done, check_steps), daemon=True
    )
    follower.start()

    try:
        return execute_locally(
            instance,
            definitions,
            "hearing_pipeline",
            location_name=location_name,
            partition_key=key,
            run_id=run_id,
            tags={"polsearch/entrypoint": "cli-ingest", **owner_tags()},
            # The follower prints progress; keep Dagster's own console logger to warnings.
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    except KeyboardInterrupt:  # before or after Dagster's own interrupt handling: the run must still end
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, message="polsearch ingest was interrupted (Ctrl-C or SIGTERM)")
        raise
    finally:
        done.set()
        follower.join()


def was_interrupted(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether a step of the run stopped because the run was interrupted (SIGTERM, Ctrl-C, terminate)."""
    return any(
        record.dagster_event.event_specific_data.error.cls_name == "DagsterExecutionInterruptedError"
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
        if record.dagster_event and record.dagster_event.event_specific_data.error
    )


def bad_source_error(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The cause, when the run failed because its source cannot be a hearing (see ``audio.bad_source``)."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        data = record.dagster_event.event_specific_data if record.dagster_event else None
        failure = getattr(data, "user_failure_data", None)
        fault = failure.metadata.get("fault") if failure else None
        if fault is not None and fault.value == BAD_SOURCE:
            return failure.description
    return None


def refresh_speaker_names(
    instance: dg.DagsterInstance,
    definitions: dg.Definitions,
    store: ArtifactStoreResource,
    library_version: Callable[[], int],
    *,
    location_name: str,
    emit: Callable[[str], None] = print,
) -> list[str]:
    """What automation does after a voiceprint library change, for a machine with no daemon: the
    ``speaker_names`` and ``hearing_index`` of each hearing behind the library (``name_refresh``) re-run
    in this process as runs of the location's ``speaker_names_refresh`` job (no audio model runs; the
    index rows of a hearing whose names did not change are left as they are), until none is behind. The
    hearings refreshed."""

    def refresh(key: str) -> bool:
        result = execute_locally(
            instance,
            definitions,
            "speaker_names_refresh",
            location_name=location_name,
            partition_key=key,
            tags={"polsearch/entrypoint": "cli-speakers", **owner_tags()},
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        named = next(
            (
                m.metadata["named"].value
                for m in result.asset_materializations_for_node("speaker_names")
                if "named" in m.metadata
            ),
            None,
        )
        emit(
            for_display(
                f"hearing {key}: names updated" + (f" ({named} speakers named)" if named is not None else "")
                if result.success
                else f"hearing {key}: FAILED to update names: {run_failure(instance, result.run_id)}"
            )
        )
        return result.success

    return converge_names(instance, store, library_version, refresh, emit)
