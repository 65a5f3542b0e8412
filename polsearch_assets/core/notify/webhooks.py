"""Signed webhook events: ``hearing.indexed`` and ``hearing.failed``, POSTed as JSON.

Each request carries::

    Content-Type: application/json
    X-Polsearch-Event: hearing.indexed
    X-Polsearch-Delivery: <uuid, the same on every retry of one event>
    X-Polsearch-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the shared secret>

A receiver recomputes the HMAC over the timestamp and the raw body with the secret and
compares in constant time (``verify_signature``); the signed timestamp lets it refuse
replays older than a few minutes. 5xx, 408/429 and connection faults are retried with
exponential backoff and jitter; other 4xx answers are final.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

from polsearch_assets.core.net import Backoff, NetworkError, call_with_retries, request

SIGNATURE_HEADER = "X-Polsearch-Signature"
EVENT_HEADER = "X-Polsearch-Event"
DELIVERY_HEADER = "X-Polsearch-Delivery"
EVENT_TYPES = ("hearing.indexed", "hearing.failed")
DEFAULT_TOLERANCE_S = 300


@dataclass(frozen=True)
class HearingEvent:
    type: str
    hearing: str
    title: str | None
    run_id: str
    occurred_at: str  # ISO 8601, UTC
    counts: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}; one of {EVENT_TYPES}")

    def body(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    if not secret:
        raise ValueError("the webhook secret is empty")
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp is within ``tolerance_s``."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


def redact_url(url: str) -> str:
    """Scheme and host only: webhook URLs often carry a token in their path or query."""
    parsed = urlparse(url)
    return f"{parsed.scheme}://{parsed.hostname}{f':{parsed.port}' if parsed.port else ''}/..."


@dataclass(frozen=True)
class Delivery:
    url: str  # redacted
    attempts: int
    status: int


def deliver(
    url: str,
    event: HearingEvent,
    secret: str,
    *,
    timeout_s: float = 10.0,
    backoff: Backoff | None = None,
    on_retry: Callable[[int, NetworkError, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST the event to ``url`` until it is accepted; raises NetworkError when it never is."""
    body = event.body()
    attempts = 0

    def attempt() -> int:
        nonlocal attempts
        attempts += 1
        headers = {
            "Content-Type": "application/json",
            EVENT_HEADER: event.type,
            DELIVERY_HEADER: event.id,
            SIGNATURE_HEADER: sign(
                secret, int(time.time()), body
            ),  # fresh per attempt: retries are not stale
        }
        return request(url, method="POST", body=body, headers=headers, timeout_s=timeout_s).status

    status = call_with_retries(attempt, backoff or Backoff(attempts=4), on_retry=on_retry, sleep=sleep)
    return Delivery(redact_url(url), attempts, status)


def event_counts(metadata_by_asset: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The figures an event carries, from the run's materialization metadata (asset -> name -> value)."""
    wanted = {
        ("raw_audio", "duration_s"): "duration_s",
        ("vad_chunks", "chunk_count"): "chunks",
        ("transcript", "words"): "words",
        ("diarization", "speaker_count"): "speakers",
        ("aligned_segments", "segments"): "segments",
        ("speaker_names", "named"): "named_speakers",
        ("hearing_index", "rows"): "index_rows",
    }
    counts: dict[str, float] = {}
    for (asset, name), label in wanted.items():
        value = metadata_by_asset.get(asset, {}).get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            counts[label] = value
    return counts
