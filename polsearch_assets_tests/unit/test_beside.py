"""Work started by one step and taken by a later one of the same run (defs/hearing/beside.py)."""

import logging
import threading

import pytest

from polsearch_assets.defs.hearing import beside

LOG = logging.getLogger("test_beside")


def test_the_taker_gets_what_the_work_returned_and_how_long_it_ran() -> None:
    beside.start("run-1", "transcript/h1", lambda log: ["words"], LOG)
    finished = beside.take("run-1", "transcript/h1")
    assert finished is not None
    assert finished.value == ["words"]
    assert finished.seconds >= 0


def test_nothing_started_is_none_and_work_is_taken_once() -> None:
    assert beside.take("run-2", "transcript/h1") is None
    beside.start("run-2", "transcript/h1", lambda log: 1, LOG)
    assert beside.take("run-2", "transcript/h1") is not None
    assert beside.take("run-2", "transcript/h1") is None


def test_the_taker_waits_for_work_still_running() -> None:
    release = threading.Event()

    def work(log: logging.Logger) -> str:
        release.wait(timeout=10)
        return "done"

    beside.start("run-3", "transcript/h1", work, LOG)
    threading.Timer(0.2, release.set).start()
    finished = beside.take("run-3", "transcript/h1")
    assert finished is not None and finished.value == "done" and finished.seconds >= 0.15


def test_an_error_in_the_work_is_raised_in_the_taking_step() -> None:
    def work(log: logging.Logger) -> None:
        raise ValueError("model failed")

    beside.start("run-4", "transcript/h1", work, LOG)
    with pytest.raises(ValueError, match="model failed"):
        beside.take("run-4", "transcript/h1")


def test_work_is_kept_apart_by_run_and_by_key_and_never_started_twice() -> None:
    beside.start("run-5", "transcript/h1", lambda log: "a", LOG)
    beside.start("run-6", "transcript/h1", lambda log: "b", LOG)
    beside.start("run-5", "transcript/h2", lambda log: "c", LOG)
    with pytest.raises(RuntimeError, match="already started"):
        beside.start("run-5", "transcript/h1", lambda log: "again", LOG)
    taken = [beside.take(run, key) for run, key in [("run-6", "transcript/h1"), ("run-5", "transcript/h2")]]
    assert [f.value for f in taken if f] == ["b", "c"]
    first = beside.take("run-5", "transcript/h1")
    assert first is not None and first.value == "a"


def _counting_work(lines: list[int], running: threading.Event):
    def work(log: logging.Logger) -> str:
        for line in range(10_000):
            log.info(f"transcribed {line}")  # the work's progress lines are where it can stop
            lines.append(line)
            running.set()
            threading.Event().wait(0.01)
        return "finished"

    return work


def test_an_interrupted_step_stops_the_work_at_its_next_progress_line() -> None:
    lines: list[int] = []
    running = threading.Event()
    beside.start("run-7", "transcript/h1", _counting_work(lines, running), LOG)
    assert running.wait(timeout=10)
    with pytest.raises(KeyboardInterrupt), beside.stopped_if_interrupted("run-7", "transcript/h1"):
        raise KeyboardInterrupt  # what Dagster's SIGTERM handler raises is a BaseException too
    stopped_at = len(lines)
    assert 0 < stopped_at < 10_000
    threading.Event().wait(0.1)
    assert len(lines) == stopped_at  # the thread has ended, not just paused
    assert beside.take("run-7", "transcript/h1") is None  # nothing is left for a taker


def test_an_error_in_the_step_leaves_the_work_for_its_taker() -> None:
    beside.start("run-8", "transcript/h1", lambda log: "words", LOG)
    with pytest.raises(ValueError), beside.stopped_if_interrupted("run-8", "transcript/h1"):
        raise ValueError("diarization failed")
    finished = beside.take("run-8", "transcript/h1")
    assert finished is not None and finished.value == "words"


def test_the_works_lines_go_to_the_starting_steps_log_under_its_key(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=LOG.name):
        beside.start("run-9", "transcript/h1", lambda log: log.info("transcribed 1/2 pieces"), LOG)
        beside.take("run-9", "transcript/h1")
    assert "transcript/h1: transcribed 1/2 pieces" in caplog.messages
