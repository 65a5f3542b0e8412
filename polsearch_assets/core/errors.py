"""Error text for people: a failed step's message without the exception class Dagster prefixes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

# dagster.Failure is how steps report an expected, explained failure; its class name adds nothing.
_FAILURE_PREFIX = re.compile(r"^dagster\._core\.definitions\.events\.Failure: ")


def readable_error(message: str) -> str:
    return _FAILURE_PREFIX.sub("", message.strip())


# What Dagster says when a step's retries run out; the error that made it retry is in its causes.
_RETRIES_EXCEEDED = re.compile(r"^Exceeded max_retries of (\d+)")


def step_error(message: str, causes: Sequence[str] = ()) -> str:
    """A failed step's error as a person should read it: the underlying error, never only
    "Exceeded max_retries of 3" (``causes``: the error's cause chain, outermost first)."""
    text = readable_error(message)
    if (exceeded := _RETRIES_EXCEEDED.match(text)) and causes:
        return f"{readable_error(causes[0])} (after {exceeded.group(1)} retries)"
    return text


def cause_messages(error: Any) -> list[str]:
    """The messages of a Dagster ``SerializableErrorInfo``'s cause chain, outermost first."""
    messages = []
    cause = getattr(error, "cause", None)
    while cause is not None:
        messages.append(cause.message)
        cause = cause.cause
    return messages
