"""Hearing keys: stable, plain identifiers derived from a hearing's source (each source kind derives its own,
``core/sources/``).

A key is both a Dagster partition key and a storage path component, so it is
validated strictly: ASCII letters, digits, ``-`` and ``_``, bounded length.
"""

from __future__ import annotations

import re

MAX_KEY_LENGTH = 64
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class InvalidHearingKey(ValueError):
    """A hearing key that cannot be used as a partition key and path component."""


def validate_hearing_key(key: str) -> str:
    """Return ``key`` unchanged if it is a valid hearing key, else raise InvalidHearingKey."""
    if not isinstance(key, str) or not key:
        raise InvalidHearingKey("hearing key must be a non-empty string")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidHearingKey(f"hearing key {key[:20]!r}... is longer than {MAX_KEY_LENGTH} characters")
    if not _KEY_RE.match(key):
        raise InvalidHearingKey(
            f"hearing key {key!r} may contain only ASCII letters, digits, '-' and '_' "
            "and must start with a letter or digit"
        )
    return key
