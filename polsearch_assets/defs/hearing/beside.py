"""Work started by one step of an in-process run and taken, finished, by a later step of the same run.

An ``in_process`` run executes one step at a time, yet transcript and diarization both wait only for
vad_chunks, and an engine alone may leave a core idle (the ASR decodes chunk by chunk, the diarizer
alternates its segmentation and embedding models). So, with POLSEARCH_TRANSCRIPT_BESIDE_DIARIZATION, the
diarization step starts the transcript's work on a thread beside its own, and the transcript step takes
the result. Only the work runs on the thread: each step still writes its own artifact and its own
materialization, so the graph, its events and re-execution are as before.

An interrupted step (SIGTERM, Ctrl-C, a run terminated from the UI) stops the work before it lets the
interrupt go on: a thread left in native model code while the interpreter shuts down crashes the process
(SIGSEGV instead of exit 130). The work stops at its next progress line: the logger it is given raises
``Stopped`` once asked to stop (engines log after each batch of chunks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

# How long an interrupted step waits for the work to reach its next progress line.
STOP_WAIT_S = 120.0


class Stopped(Exception):
    """Raised in the work, at a progress line, once its run was interrupted."""


@dataclass(frozen=True)
class Finished:
    """What the work returned, and how long it ran on its thread."""

    value: Any
    seconds: float


@dataclass
class _Work:
    future: Future[Finished]
    thread: threading.Thread
    stop: threading.Event


_started: dict[tuple[str, str], _Work] = {}
_lock = threading.Lock()


class _StoppingLog(logging.LoggerAdapter):
    """The starting step's logger, its lines prefixed with the work's key (they appear in that step's log),
    raising ``Stopped`` at the work's next line once ``stop`` is set."""

    def __init__(self, log: logging.Logger | logging.LoggerAdapter, key: str, stop: threading.Event) -> None:
        super().__init__(log, {})
        self.key = key
        self.stop = stop

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if self.stop.is_set():
            raise Stopped("the run was interrupted")
        self.logger.log(level, f"{self.key}: {msg}", *args, **kwargs)


def start(
    run_id: str, key: str, work: Callable[[logging.Logger], Any], log: logging.Logger | logging.LoggerAdapter
) -> None:
    """Run ``work(log)`` on a thread, for the step of run ``run_id`` that calls ``take(run_id, key)``."""
    future: Future[Finished] = Future()
    stop = threading.Event()
    stopping_log: Any = _StoppingLog(log, key, stop)

    def run() -> None:
        future.set_running_or_notify_cancel()
        started = time.perf_counter()
        try:
            value = work(stopping_log)
        except BaseException as error:  # handed to the taker, who raises it in its own step
            future.set_exception(error)
        else:
            future.set_result(Finished(value, time.perf_counter() - started))

    thread = threading.Thread(target=run, name=f"beside-{key}")
    with _lock:
        if (run_id, key) in _started:
            raise RuntimeError(f"work for {key} in run {run_id} was already started")
        _started[run_id, key] = _Work(future, thread, stop)
    thread.start()


def take(run_id: str, key: str) -> Finished | None:
    """The finished work started for ``key`` in this run (waiting for it), or None when none was started.

    Work that failed raises its error here, in the taking step.
    """
    with _lock:
        work = _started.get((run_id, key))
    if work is None:
        return None
    with stopped_if_interrupted(run_id, key):
        finished = work.future.result()
    with _lock:
        _started.pop((run_id, key), None)
    return finished


@contextmanager
def stopped_if_interrupted(run_id: str, key: str) -> Iterator[None]:
    """Stop this run's work for ``key`` (and wait for it to stop) if the block is interrupted.

    An error (an ``Exception``) leaves the work running for its taker; an interrupt (Dagster's
    ``DagsterExecutionInterruptedError``, ``KeyboardInterrupt``: ``BaseException`` only) ends it.
    """
    try:
        yield
    except Exception:
        raise
    except BaseException:
        with _lock:
            work = _started.pop((run_id, key), None)
        if work is not None:
            work.stop.set()
            work.thread.join(timeout=STOP_WAIT_S)
        raise
