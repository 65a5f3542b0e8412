"""Failure lines name their cause: storage faults by name, never Dagster's wrappers; storage faults are not
retried."""

from __future__ import annotations

import errno

import dagster as dg
import pytest

from polsearch_assets.core.errors import step_error, storage_fault, storage_fault_of
from polsearch_assets.defs.hearing.retries import retried

LANCE_READ_ONLY = (
    "OSError: LanceError(IO): Generic LocalFileSystem error: Unable to create dir /data/lancedb/voiceprints.lance: "
    "Read-only file system (os error 30), /home/runner/lance/rust/lance-io/src/object_store.rs:612:34"
)
WRAPPED = 'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op "speaker_names":'


def test_storage_faults_are_named_from_their_words_or_errno() -> None:
    assert storage_fault([LANCE_READ_ONLY]) == (
        "storage error (read-only file system): LanceError(IO): Generic LocalFileSystem error: Unable to create dir "
        "/data/lancedb/voiceprints.lance: Read-only file system (os error 30), "
        "/home/runner/lance/rust/lance-io/src/object_store.rs:612:34"
    )
    full = OSError(errno.ENOSPC, "No space left on device", "/data/a/speaker_names.json")
    assert storage_fault_of(full) == (
        "storage error (no space left on device): [Errno 28] No space left on device: "
        "'/data/a/speaker_names.json' (os error 28)"
    )
    try:
        raise RuntimeError("the write failed") from OSError(errno.EACCES, "Permission denied", "/data")
    except RuntimeError as error:
        assert (
            storage_fault_of(error)
            == "storage error (permission denied): [Errno 13] Permission denied: '/data' (os error 13)"
        )
    assert (
        storage_fault(["HTTP 503 from the source", "ConnectionResetError: [Errno 104] reset by peer"]) is None
    )
    assert storage_fault_of(ValueError("no speaker 'SPEAKER_9'")) is None


def test_a_step_error_is_its_cause_in_one_line() -> None:
    assert step_error(WRAPPED, ["OSError: [Errno 28] No space left on device: '/a/b.json'\n"]) == (
        "storage error (no space left on device): [Errno 28] No space left on device: '/a/b.json'"
    )
    assert step_error(WRAPPED, ["KeyError: 'voices'", "ValueError: inner"]) == "KeyError: 'voices'"
    assert step_error("Exceeded max_retries of 3", ["HTTP 503 from the source"]) == (
        "HTTP 503 from the source (after 3 retries)"
    )
    assert (
        step_error("dagster._core.definitions.events.Failure: hearing x: not audio") == "hearing x: not audio"
    )


def test_a_storage_fault_is_never_retried() -> None:
    policy = dg.RetryPolicy(max_retries=3, delay=1)

    @retried(policy)
    def write(context: dg.AssetExecutionContext) -> None:
        raise OSError(errno.EROFS, "Read-only file system", "/data/lancedb")

    with pytest.raises(dg.Failure) as failure:  # a transient error is retried (test_run_faults.py)
        write(dg.build_asset_context())
    assert not failure.value.allow_retries
    assert failure.value.description == (
        "storage error (read-only file system): [Errno 30] Read-only file system: '/data/lancedb' (os error 30)"
    )
