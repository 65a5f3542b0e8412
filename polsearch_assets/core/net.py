"""Plain HTTP with the project's fault classification and retry rule, for in-process network calls.

Steps retry through Dagster's ``RetryPolicy``; sensors and notification hooks cannot,
so they retry here: transient faults (HTTP 5xx/408/425/429, timeouts, refused or
dropped connections) with exponential backoff and jitter, permanent faults (any
other 4xx, a malformed URL) at once.
"""

from __future__ import annotations

import http.client
import random
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

# Statuses worth asking again (the server is overloaded, restarting or rate-limiting).
TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 523, 524})
_BODY_TAIL = 300
USER_AGENT = "polsearch (+https://github.com/polsearch)"


class NetworkError(Exception):
    """A request that did not succeed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class TransientNetworkError(NetworkError):
    """Worth retrying: the same request may succeed later."""


class RequestTimeout(TransientNetworkError):
    """No answer in time: the server may still be working on the request."""


class PermanentNetworkError(NetworkError):
    """Retrying will not help (404, 401, a bad URL, ...)."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Backoff:
    """``attempts`` tries in all; the n-th retry waits ``base_delay_s * 2**n`` (capped), +/- ``jitter``."""

    attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    jitter: float = 0.25
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, retry: int) -> float:
        nominal = min(self.base_delay_s * 2**retry, self.max_delay_s)
        return max(0.0, nominal * (1 + self.rng.uniform(-self.jitter, self.jitter)))


def call_with_retries(
    call: Callable[[], T],
    backoff: Backoff,
    *,
    on_retry: Callable[[int, NetworkError, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call``; on a TransientNetworkError wait and try again, up to ``backoff.attempts`` tries."""
    for attempt in range(backoff.attempts):
        try:
            return call()
        except TransientNetworkError as error:
            if attempt == backoff.attempts - 1:
                raise
            wait = backoff.delay(attempt)
            if on_retry is not None:
                on_retry(attempt + 1, error, wait)
            sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")


def _describe(url: str, error: urllib.error.HTTPError) -> str:
    try:
        tail = error.read()[:_BODY_TAIL].decode("utf-8", "replace").strip()
    except OSError:
        tail = ""
    return f"HTTP {error.code} from {url}" + (f": {tail}" if tail else "")


def request(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
    accept_statuses: frozenset[int] = frozenset(),
) -> Response:
    """One HTTP request. Non-2xx statuses raise, classified, unless listed in ``accept_statuses`` (e.g. 304)."""
    if not url.startswith(("http://", "https://")):
        raise PermanentNetworkError(f"not an http(s) URL: {url!r}")
    prepared = urllib.request.Request(
        url, data=body, method=method, headers={"User-Agent": USER_AGENT, **(headers or {})}
    )
    try:
        with urllib.request.urlopen(prepared, timeout=timeout_s) as answer:
            return Response(answer.status, dict(answer.headers.items()), answer.read())
    except urllib.error.HTTPError as error:
        if error.code in accept_statuses:
            return Response(error.code, dict(error.headers.items()), error.read())
        kind = TransientNetworkError if error.code in TRANSIENT_HTTP_STATUSES else PermanentNetworkError
        raise kind(_describe(url, error), status=error.code) from error
    except TimeoutError as error:
        raise RequestTimeout(f"timed out after {timeout_s:g} s: {url}") from error
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, socket.gaierror):
            # An unknown host name is usually a typo, but DNS outages are real: let the caller's retry decide.
            raise TransientNetworkError(f"cannot resolve host of {url}: {reason}") from error
        raise TransientNetworkError(f"cannot connect to {url}: {reason}") from error
    except (ConnectionError, http.client.HTTPException) as error:
        raise TransientNetworkError(f"connection to {url} dropped: {error}") from error
