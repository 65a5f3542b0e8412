"""One run per hearing, and runs whose process died end instead of staying STARTED.

Runs the daemon launches (sensors, automation, backfills, the API) queue behind the run
queue's per-hearing limit (``dagster/partition``, one at a time, ``dagster.yaml``). A
``polsearch ingest`` runs in its own process, outside that queue: it takes the hearing's
lock file in DAGSTER_HOME and refuses while another run of the hearing is active.

Dagster's run monitoring cannot see the run worker of the default (local) run launcher,
and nothing at all watches an in-process ``polsearch ingest``: when such a process is
killed, its run stays STARTED. Every run worker therefore records where it runs, as run
tags: host, PID namespace and pid (``owner_tags``; the CLI's in-process runs when they
start, daemon-launched workers when their executor starts, ``owned_executor``).
``end_abandoned_runs`` marks failed the runs whose recorded process is gone, and looks only
where it can see: a run recorded on another host or in another PID namespace (another
machine, container or pod) is never judged from here, and neither is a run whose worker
recorded nothing (yet); Dagster's run monitoring watches those. The ``abandoned_runs``
sensor calls it every 30 s in a deployment; local CLI commands call it first.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.executor.base import Executor

from polsearch_assets.core.keys import validate_hearing_key
from polsearch_assets.core.scratch import process_alive
from polsearch_assets.defs.hearing.partitions import ACTIVE_RUN_STATUSES, PARTITION_TAG

HOST_TAG = "polsearch/host"
PIDNS_TAG = "polsearch/pid_namespace"
PID_TAG = "polsearch/pid"
_RUNNING = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
_CLOCK_SLACK_S = 2.0  # clock granularity between /proc and run records
_NOT_STARTED_GRACE_S = 60.0


class HearingBusy(RuntimeError):
    """A run is working on the hearing."""


def active_runs(instance: dg.DagsterInstance, key: str) -> list[dg.DagsterRun]:
    """Runs of the hearing that are queued, starting or running."""
    return list(instance.get_runs(dg.RunsFilter(tags={PARTITION_TAG: key}, statuses=ACTIVE_RUN_STATUSES)))


def refuse_if_busy(instance: dg.DagsterInstance, key: str) -> None:
    if busy := active_runs(instance, key):
        run = busy[0]
        raise HearingBusy(
            f"hearing {key} already has a run in progress ({run.run_id}, {run.status.value}); "
            "wait for it to finish or terminate it first"
        )


def pid_namespace() -> str:
    """This process's PID namespace (``pid:[4026531836]``): a pid means this process only inside it."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:  # not Linux: one namespace per host
        return ""


def owner_tags() -> dict[str, str]:
    """Tags naming this process as the one executing a run: its host, PID namespace and pid."""
    return {HOST_TAG: socket.gethostname(), PIDNS_TAG: pid_namespace(), PID_TAG: str(os.getpid())}


class _OwnedExecutor(Executor):
    """An executor that first records its run worker (``owner_tags``) on the run, then runs the steps."""

    def __init__(self, inner: Executor) -> None:
        self._inner = inner

    def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[Any]:
        plan_context.instance.add_run_tags(plan_context.run_id, owner_tags())
        yield from self._inner.execute(plan_context, execution_plan)

    @property
    def retries(self) -> Any:
        return self._inner.retries

    @property
    def step_dependency_config(self) -> Any:
        return self._inner.step_dependency_config

    def get_step_event_or_retry_event(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.get_step_event_or_retry_event(*args, **kwargs)


def owned_executor(base: dg.ExecutorDefinition) -> dg.ExecutorDefinition:
    """``base``, recording each run's worker process on the run before its steps execute."""
    create = base.executor_creation_fn
    if create is None:
        raise ValueError(f"executor {base.name} cannot be wrapped")
    return dg.ExecutorDefinition(
        name=base.name,
        config_schema=base.config_schema,
        executor_creation_fn=lambda init_context: _OwnedExecutor(create(init_context)),
        description=base.description,
        requirements=base.get_requirements,
    )


@contextmanager
def hearing_lock(instance: dg.DagsterInstance, key: str) -> Iterator[None]:
    """Held while this process runs the hearing; a second process fails at once with HearingBusy."""
    root = instance.root_directory
    locks = Path(root) / ".polsearch-locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / f"{validate_hearing_key(key)}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HearingBusy(f"hearing {key} is being ingested by another polsearch process") from None
        yield  # the kernel releases the lock when the process ends, however it ends


def _process_start_time(pid: int) -> float | None:
    """Seconds since the epoch when process ``pid`` started; None when there is no such process."""
    if not process_alive(pid):
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
    except (OSError, StopIteration):
        return 0.0  # alive; its start time is unknown here (not Linux)
    fields = stat.rsplit(")", 1)[1].split()  # after the parenthesised name: field 3 onwards
    if fields[0] == "Z":
        return None  # exited, not yet reaped by its parent (a code server's run worker): gone
    ticks = int(fields[19])  # field 22
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _worker(record: dg.RunRecord) -> tuple[int, float] | None:
    """The pid of the process executing the run, when it runs where this process can see it (same host
    and PID namespace), and a time that process had started by (a later start means the pid now belongs
    to another process). None: its worker is elsewhere or has not said where; not judged from here."""
    tags = record.dagster_run.tags
    if PID_TAG not in tags or tags.get(HOST_TAG) != socket.gethostname():
        return None
    if tags.get(PIDNS_TAG) != pid_namespace():
        return None  # another container on this host, or a worker that did not record its namespace
    started = record.start_time or record.create_timestamp.timestamp()
    return int(tags[PID_TAG]), started


# The executor of the jobs that run all their steps in the run worker (the speaker library, registrations).
in_process_owned = owned_executor(dg.in_process_executor)


def end_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed (or canceled, if it was being canceled) every run whose worker process is gone; also a
    run a CLI process created and was killed before starting (NOT_STARTED for over a minute: it would
    keep its hearing busy for ever)."""
    ended = []
    statuses = [*_RUNNING, dg.DagsterRunStatus.NOT_STARTED]
    for record in instance.get_run_records(dg.RunsFilter(statuses=statuses)):
        run = record.dagster_run
        age = time.time() - record.create_timestamp.timestamp()
        if run.status == dg.DagsterRunStatus.NOT_STARTED and age < _NOT_STARTED_GRACE_S:
            continue  # being launched right now (a daemon submits its runs within moments)
        worker = _worker(record)
        if worker is None:
            continue
        pid, running_by = worker
        started = _process_start_time(pid)
        if started is not None and started <= running_by + _CLOCK_SLACK_S:
            continue  # its process is alive
        message = (
            f"the process running this run (pid {pid} on {socket.gethostname()}) is gone: killed or crashed. "
            "Retry the hearing (polsearch retry KEY, polsearch ingest SOURCE, or Re-execute in the UI)."
        )
        if run.status == dg.DagsterRunStatus.CANCELING:
            instance.report_run_canceled(run, message=message)
        else:
            instance.report_run_failed(run, message=message)
        ended.append(run.run_id)
    return ended


@dg.sensor(
    name="abandoned_runs",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Ends runs whose process died on this machine (killed `polsearch ingest`, a crashed run worker): "
    "they would otherwise stay STARTED, and retries, backfills and status would skip the hearing.",
)
def abandoned_runs(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    ended = end_abandoned_runs(context.instance)
    for run_id in ended:
        context.log.warning(f"run {run_id}: its process is gone; marked failed")
    return dg.SkipReason(f"ended {len(ended)} abandoned run(s)" if ended else "no abandoned runs")
