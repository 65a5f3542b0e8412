"""Error text for people: a failed step's message without the exception class Dagster prefixes, and the
storage faults (read-only, full, not permitted) that no retry can fix, named in one line."""

from __future__ import annotations

import errno
import re
from collections.abc import Iterable, Sequence
from typing import Any

# dagster.Failure is how steps report an expected, explained failure; its class name adds nothing.
_FAILURE_PREFIX = re.compile(r"^dagster\._core\.definitions\.events\.Failure: ")
# What Dagster says around an exception raised in a step's body; the exception itself is the cause.
_STEP_WRAPPER = re.compile(r"^dagster\._core\.errors\.DagsterExecutionStepExecutionError: ")


def readable_error(message: str) -> str:
    return _FAILURE_PREFIX.sub("", message.strip())


# What Dagster says when a step's retries run out; the error that made it retry is in its causes.
_RETRIES_EXCEEDED = re.compile(r"^Exceeded max_retries of (\d+)")


def step_error(message: str, causes: Sequence[str] = ()) -> str:
    """A failed step's error as a person should read it, in one line: a storage fault by its name (see
    ``storage_fault``), else the underlying error, never only "Exceeded max_retries of 3" or "Error
    occurred while executing op" (``causes``: the error's cause chain, outermost first)."""
    if fault := storage_fault([message, *causes]):
        return fault
    text = readable_error(message)
    if (exceeded := _RETRIES_EXCEEDED.match(text)) and causes:
        return f"{readable_error(causes[0])} (after {exceeded.group(1)} retries)"
    if _STEP_WRAPPER.match(text) and causes:
        return readable_error(causes[0])
    return text


def cause_messages(error: Any) -> list[str]:
    """The messages of a Dagster ``SerializableErrorInfo``'s cause chain, outermost first."""
    messages = []
    cause = getattr(error, "cause", None)
    while cause is not None:
        messages.append(cause.message)
        cause = cause.cause
    return messages


# Storage faults that stay until someone acts (remount, free space, fix ownership): retrying only delays
# the report. Matched by errno, or by the OS's words in the message (LanceDB's Rust errors carry
# "Read-only file system (os error 30)", not an errno).
_STORAGE_FAULTS = (
    (errno.EROFS, "read-only file system", "Read-only file system"),
    (errno.ENOSPC, "no space left on device", "No space left on device"),
    (errno.EDQUOT, "disk quota exceeded", "Disk quota exceeded"),
    (errno.EACCES, "permission denied", "Permission denied"),
)
_CLASS_PREFIX = re.compile(r"^(?:[A-Za-z_][\w.]*: )+")  # OSError: / dagster._core...Failure:


def storage_fault(messages: Iterable[str]) -> str | None:
    """``storage error (no space left on device): <the line that says so>`` when one of ``messages`` (an
    error and its causes) is a permanent storage fault; None otherwise."""
    for message in messages:
        for code, name, words in _STORAGE_FAULTS:
            if words in message or f"os error {code})" in message:
                line = next(
                    line for line in message.splitlines() if words in line or f"os error {code})" in line
                )
                detail = _CLASS_PREFIX.sub("", line.strip())
                return f"storage error ({name}): {detail[:400]}"
    return None


def storage_fault_of(error: BaseException) -> str | None:
    """``storage_fault`` of an exception and the exceptions it was raised from."""
    chain: list[str] = []
    seen: BaseException | None = error
    while seen is not None and len(chain) < 10:
        known = isinstance(seen, OSError) and seen.errno in {code for code, _, _ in _STORAGE_FAULTS}
        chain.append(f"{seen} (os error {seen.errno})" if known else str(seen))
        seen = seen.__cause__ or seen.__context__
    return storage_fault(chain)
