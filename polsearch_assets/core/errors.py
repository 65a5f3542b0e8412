"""Error text for people: a failed step's message without the exception class Dagster prefixes."""

from __future__ import annotations

import re

# dagster.Failure is how steps report an expected, explained failure; its class name adds nothing.
_FAILURE_PREFIX = re.compile(r"^dagster\._core\.definitions\.events\.Failure: ")


def readable_error(message: str) -> str:
    return _FAILURE_PREFIX.sub("", message.strip())
