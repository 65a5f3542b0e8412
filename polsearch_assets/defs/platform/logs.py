"""Structured logs: one JSON object per line on stdout, for a cluster's log pipeline.

Each line carries the hearing key, the asset (step), the run, the Dagster event type, and for
finished steps their duration; a materialization also carries its numeric metadata (seconds,
real-time factor, words, speakers...). That is what log-based metrics and alerts are built
from (deploy/README.md, "Observability").

The handler is attached by the instance, not the code location: ``python_logs.dagster_handler_config``
in dagster.yaml (deploy/dagster.yaml; ``pythonLogs`` in the Helm values) applies to every run,
however it was launched, whereas a code location's loggers apply only to runs whose run config
names them. Dagster's console logger keeps writing text to stderr for ``kubectl logs``.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

PARTITION_TAG = "dagster/partition"


def _numbers(metadata: dict[str, Any]) -> dict[str, float]:
    """The numeric metadata values of a materialization (MetadataValue.int/float or plain numbers)."""
    found = {}
    for name, value in metadata.items():
        raw = getattr(value, "value", value)
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            found[name] = raw
    return found


def log_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The JSON object for one Dagster log record."""
    # Dagster's log manager puts the run's facts on each record as ``dagster_meta`` (what its JSON logger dumps).
    meta = getattr(record, "dagster_meta", None) or {}
    fields: dict[str, Any] = {
        "ts": record.created,
        "level": record.levelname,
        "msg": meta.get("orig_message", record.getMessage()),
        "hearing": (meta.get("job_tags") or {}).get(PARTITION_TAG),
        "asset": meta.get("step_key"),
        "run_id": meta.get("run_id"),
        "job": meta.get("job_name"),
    }
    event = meta.get("dagster_event")
    if event is not None:
        fields["event"] = event.event_type_value
        data = event.event_specific_data
        duration = getattr(data, "duration_ms", None)
        if duration is not None:
            fields["duration_ms"] = round(duration, 1)
        error = getattr(data, "error", None)
        if error is not None:
            fields["error"] = error.message.strip()
        materialization = getattr(data, "materialization", None)
        if materialization is not None:
            fields["metrics"] = _numbers(dict(materialization.metadata))
    return {k: v for k, v in fields.items() if v is not None}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(log_fields(record), default=str)


class JsonLinesHandler(logging.StreamHandler):
    """JSON lines on stdout; the instance attaches it to every run (``python_logs`` in deploy/dagster.yaml)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)
        self.setFormatter(JsonLines())
