"""One run per hearing, and runs whose process died end instead of staying STARTED.

Runs the daemon launches (sensors, automation, backfills, the API) queue behind the run
queue's per-hearing limit (``dagster/partition``, one at a time, ``dagster.yaml``). A
``polsearch ingest`` runs in its own process, outside that queue: it takes the hearing's
lock file in DAGSTER_HOME and refuses while another run of the hearing is active.

Dagster's run monitoring cannot see the run worker of the default (local) run launcher,
and nothing at all watches an in-process ``polsearch ingest``: when such a process is
killed, its run stays STARTED. ``end_abandoned_runs`` finds those runs (the process that
owns the run is gone from this machine) and marks them failed, so ``retry``, backfills and
status see them as they are. The ``abandoned_runs`` sensor calls it every 30 s in a
deployment; local CLI commands call it first.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg

from polsearch_assets.core.keys import validate_hearing_key
from polsearch_assets.core.scratch import process_alive
from polsearch_assets.defs.hearing.partitions import ACTIVE_RUN_STATUSES, PARTITION_TAG

HOST_TAG = "polsearch/host"
PID_TAG = "polsearch/pid"
_RUNNING = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
_CLOCK_SLACK_S = 2.0  # clock granularity between /proc and run records


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


def owner_tags() -> dict[str, str]:
    """Tags naming this process as the one executing a run (for runs executed in this process)."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


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
    ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, after the parenthesised name
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _worker(instance: dg.DagsterInstance, record: dg.RunRecord) -> tuple[int, float] | None:
    """The pid of the process executing the run on this machine, when that can be known, and a time
    that process had started by (a later start means the pid now belongs to another process)."""
    run = record.dagster_run
    if PID_TAG in run.tags:  # polsearch ingest: the process that created the run executes it
        if run.tags.get(HOST_TAG) != socket.gethostname():
            return None
        return int(run.tags[PID_TAG]), record.create_timestamp.timestamp()
    if not isinstance(instance.run_launcher, dg.DefaultRunLauncher):
        return None  # another launcher (Kubernetes): Dagster's run monitoring checks its workers
    for event in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = event.dagster_event.engine_event_data if event.dagster_event else None
        pid = data.metadata.get("pid") if data else None
        if pid is not None:  # "Started process for run (pid: N)", logged by the run worker once it runs
            return int(str(pid.value)), event.timestamp
    return None


def end_abandoned_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed (or canceled, if it was being canceled) every run whose worker process is gone."""
    ended = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=_RUNNING)):
        run = record.dagster_run
        worker = _worker(instance, record)
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
