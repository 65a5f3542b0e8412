"""Runs the local commands execute in their own process, recorded as runs of the code location's job.

``JobDefinition.execute_in_process`` records a run with no code location origin and the snapshot of
an in-process copy of the job, so the UI lists it under no job (Jobs -> hearing_pipeline -> Runs and
Overview -> Timeline stay empty) and warns on Re-execute that the job "may be a different version".
``execute_locally`` creates the run as the webserver creates a launched one -- the snapshot of the job as
the code location defines it, and its origin (location, repository, job) -- then executes it here, in
this process: models load once, progress can be followed as it is written, Ctrl-C stops it.

Dagster has no public API that creates a run with a code location origin without a running code server,
nor one that executes an existing run: the few private imports this needs are all in this module.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

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

DEFINITIONS_MODULE = "polsearch_assets.definitions"
REPOSITORY_NAME = "__repository__"  # what dg.Definitions is served as


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
