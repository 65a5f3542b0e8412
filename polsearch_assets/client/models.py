"""What the API client returns, and how it plans backfills: plain dataclasses and functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from polsearch_assets.core.contracts import HEARING_ASSETS

IN_PROGRESS = frozenset({"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "MANAGED", "CANCELING"})
FINISHED = frozenset({"SUCCESS", "FAILURE", "CANCELED"})


@dataclass(frozen=True)
class StepState:
    step: str
    status: str | None  # SUCCESS, FAILURE, SKIPPED, IN_PROGRESS, UP_FOR_RETRY, or None (not started)
    start_time: float | None
    end_time: float | None


@dataclass(frozen=True)
class RunState:
    run_id: str
    status: str
    job: str
    created: float
    started: float | None
    ended: float | None
    tags: dict[str, str] = field(default_factory=dict)
    steps: tuple[StepState, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


@dataclass(frozen=True)
class AssetState:
    state: str  # materialized | in_progress | failed | skipped (upstream failed) | canceled | missing
    stale: bool
    run_id: str | None  # the run that last planned this asset for the hearing
    materialized_at: float | None


@dataclass(frozen=True)
class HearingStatus:
    key: str
    assets: dict[str, AssetState]
    last_run: RunState | None
    error: str | None


@dataclass(frozen=True)
class Submission:
    key: str
    new_partition: bool
    run_id: str
    already_running: bool = False  # run_id is the hearing's run already in progress, not a new one


@dataclass(frozen=True)
class BackfillPlan:
    keys: list[str]
    assets_by_key: dict[str, list[str]]  # hearing -> assets to run

    @classmethod
    def of(cls, chosen: Mapping[str, list[str]], limit: int | None = None) -> BackfillPlan:
        """The plan of ``chosen`` (hearing -> assets), hearings by key, the first ``limit`` of them."""
        picked = sorted(chosen)[:limit] if limit is not None else sorted(chosen)
        return cls(picked, {k: chosen[k] for k in picked})


def run_state(data: dict[str, Any]) -> RunState:
    return RunState(
        run_id=data["runId"],
        status=data["status"],
        job=data.get("jobName", ""),
        created=data.get("creationTime") or 0.0,
        started=data.get("startTime"),
        ended=data.get("endTime"),
        tags={t["key"]: t["value"] for t in data.get("tags", [])},
        steps=tuple(
            StepState(s["stepKey"], s["status"], s.get("startTime"), s.get("endTime"))
            for s in data.get("stepStats", [])
        ),
    )


def asset_state(
    materialization: dict | None, planned_run: dict | None, step_status: str | None, stale: bool
) -> AssetState:
    """One hearing's asset: its latest materialization, weighed against the latest run that planned it.

    ``step_status`` is the asset's step in that run. A run that failed upstream of the asset
    leaves it ``skipped`` (or ``materialized``, by an earlier run), not ``failed``.
    """
    run_id = planned_run["runId"] if planned_run else None
    run_status = planned_run["status"] if planned_run else None
    if materialization and materialization["runId"] == run_id:
        state = "materialized"
    elif run_status in IN_PROGRESS:
        state = "in_progress"
    elif run_status in ("FAILURE", "CANCELED") and step_status == "FAILURE":
        state = "failed"
    elif materialization:
        state = "materialized"
    elif run_status == "CANCELED":
        state = "canceled"
    elif run_status == "FAILURE":
        state = "skipped"
    else:
        state = "missing"
    return AssetState(
        state=state,
        stale=stale,
        run_id=run_id,
        materialized_at=float(materialization["timestamp"]) / 1000 if materialization else None,
    )


def missing_plan(
    keys: Sequence[str], statuses: Mapping[str, Mapping[str, list[str]]]
) -> dict[str, list[str]]:
    """Hearings not fully materialized and not being worked on; each is run again whole.

    ``statuses`` maps an asset to its ``DefaultPartitionStatuses`` (materialized, materializing,
    failed partitions). A partition whose latest attempt failed counts as not materialized.
    """
    done: set[str] | None = None
    busy: set[str] = set()
    for name in HEARING_ASSETS:
        if name not in statuses:
            continue
        status = statuses[name]
        materialized = set(status["materializedPartitions"]) - set(status["failedPartitions"])
        done = materialized if done is None else done & materialized
        busy |= set(status["materializingPartitions"])
    return {k: list(HEARING_ASSETS) for k in keys if k not in (done or set()) and k not in busy}


def stale_plan(keys: Sequence[str], stale_by_asset: Mapping[str, set[str]]) -> dict[str, list[str]]:
    """Hearings with a stale asset: the first stale asset in graph order and everything after it."""
    chosen: dict[str, list[str]] = {}
    for key in keys:
        first = next((i for i, a in enumerate(HEARING_ASSETS) if key in stale_by_asset.get(a, set())), None)
        if first is not None:
            chosen[key] = list(HEARING_ASSETS[first:])
    return chosen
