"""Runs the local commands execute in their own process, recorded as runs of the code location's job, and
the progress they print.

``JobDefinition.execute_in_process`` records a run with no code location origin and the snapshot of
an in-process copy of the job, so the UI lists it under no job (Jobs -> hearing_pipeline -> Runs and
Overview -> Timeline stay empty) and warns on Re-execute that the job "may be a different version".
``execute_locally`` creates the run as the webserver creates a launched one -- the snapshot of the job as
the code location defines it, and its origin (location, repository, job) -- then executes it here, in
this process: models load once, progress can be followed as it is written, Ctrl-C stops it.

Dagster has no public API that creates a run with a code location origin without a running code server,
nor one that executes an existing run: the few private imports this needs are all in this module.

``materialize_hearing`` (``polsearch ingest``) follows its run's event log from a thread and prints a line per
step start, retry, failure, materialization and check as they are written; ``refresh_speaker_names`` (the
local ``speakers`` commands) does what automation does on a deployment after a library change.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import uuid
from collections.abc import Callable, Mapping

import dagster as dg

# Private Dagster APIs (1.13), used only here; see the module docstring.
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from polsearch_assets.core.errors import cause_messages, step_error
from polsearch_assets.core.text import for_display
from polsearch_assets.defs.hearing.audio import BAD_SOURCE
from polsearch_assets.defs.hearing.name_refresh import converge_names, run_failure
from polsearch_assets.defs.hearing.runs import owner_tags
from polsearch_assets.defs.platform.artifacts import ArtifactStoreResource

DEFINITIONS_MODULE = "polsearch_assets.definitions"
REPOSITORY_NAME = "__repository__"  # what dg.Definitions is served as

_PROGRESS_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_UP_FOR_RETRY,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
}


def job_origin(location_name: str, job_name: str) -> RemoteJobOrigin:
    """The origin ``dagster dev -w workspace.yaml`` (and ``dg dev``) give the job: the UI lists runs under
    their job by its repository label (``__repository__@LOCATION``)."""
    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable, module_name=DEFINITIONS_MODULE, working_directory=os.getcwd()
        ),
        location_name=location_name,
    )
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, REPOSITORY_NAME), job_name)


def execute_locally(
    instance: dg.DagsterInstance,
    definitions: dg.Definitions,
    job_name: str,
    *,
    location_name: str,
    partition_key: str | None = None,
    run_config: Mapping[str, object] | None = None,
    tags: Mapping[str, str] | None = None,
    run_id: str | None = None,
) -> dg.JobExecutionResult:
    """Execute ``job_name`` of ``definitions`` in this process, as a run of the code location's job.

    Every step runs in this process whatever the location's executor (as ``execute_in_process`` did);
    the run records the location's own job, so the UI shows it as that job's run and re-executes it
    through the deployment's executor. Failures are in the result (``success``), not raised.
    """
    job = definitions.resolve_job_def(job_name)
    run_tags = {**job.run_tags}
    if partition_key is not None:
        run_tags.update(job.get_tags_for_partition_key(partition_key, selected_asset_keys=None))
    run = instance.create_run_for_job(
        job,
        run_id=run_id,
        run_config=run_config,
        tags={**run_tags, **(tags or {})},
        remote_job_origin=job_origin(location_name, job_name),
    )
    if job.executor_def is not dg.in_process_executor:
        job = job.with_executor_def(dg.in_process_executor)
    return execute_run(InMemoryJob(job), run, instance, raise_on_error=False)


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
