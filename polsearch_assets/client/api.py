"""A client for a polsearch deployment's Dagster GraphQL API (the webserver's ``/graphql``).

Plain HTTP and GraphQL documents, no Dagster import: scripts and services use it with
nothing but this package. It covers what ``DagsterGraphQLClient`` does not: hearings
as dynamic partitions, per-asset state of one hearing, re-execution from failure and
partition backfills. The documents are ``.graphql`` files in ``documents/`` (``GRAPHQL``) and in the README, for
people who automate from other languages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from polsearch_assets.client.graphql import GRAPHQL
from polsearch_assets.client.models import (
    BackfillPlan,
    HearingStatus,
    RunState,
    StepState,
    Submission,
    asset_state,
    missing_plan,
    run_state,
    stale_plan,
)
from polsearch_assets.client.staleness import (
    AssetNode,
    Materialization,
    asset_nodes,
    is_stale,
    materialization,
    stale_in,
)
from polsearch_assets.client.transport import (
    DagsterApiError,
    DagsterTimeout,
    GraphQLTransport,
    UnknownHearing,
    asset_keys,
    tag_list,
)
from polsearch_assets.core.contracts import HEARING_ASSETS
from polsearch_assets.core.errors import step_error
from polsearch_assets.core.sources.registry import resolve_source

PARTITIONS_DEF = "hearings"
HEARING_JOB = "hearing_pipeline"
REGISTER_JOB = "register_hearings"
SPEAKER_LIBRARY_JOB = "speaker_library"
# Hearings per staleness page to begin with (halved on a timeout): one request per asset, each fetching at
# most this many materializations (about 1 ms each on a busy 2-core webserver, BENCHMARKS.md).
STALE_PAGE = 1000
# The deployment's sensor that decides staleness next to the instance (defs/hearing/stale.py); a deployment
# without it is asked page by page.
STALE_SENSOR = "stale_hearings"
_TRIED = ("materializedPartitions", "failedPartitions", "materializingPartitions")


class DagsterApi(GraphQLTransport):
    """A polsearch deployment, addressed by its webserver URL."""

    stale_sensor: str | None = STALE_SENSOR

    # -- hearings

    def add_hearing_partition(self, key: str) -> bool:
        """Add the partition; True if it is new, False if the hearing was registered before."""
        result = self.graphql(
            GRAPHQL["add_partition"],
            {
                "location": self.location,
                "repository": self.repository,
                "partitionsDef": PARTITIONS_DEF,
                "key": key,
            },
        )["addDynamicPartition"]
        if result["__typename"] == "DuplicateDynamicPartitionError":
            return False
        self._ok(result, f"registering hearing {key}")
        return True

    def launch_run(
        self,
        job: str,
        *,
        tags: Mapping[str, str] | None = None,
        run_config: Mapping[str, Any] | None = None,
        assets: Sequence[str] | None = None,
    ) -> str:
        params: dict[str, Any] = {
            "selector": self._selector(job, assets),
            "executionMetadata": {"tags": tag_list(tags or {})},
        }
        if run_config:
            params["runConfigData"] = dict(run_config)
        result = self._ok(
            self.graphql(GRAPHQL["launch_run"], {"executionParams": params}, idempotent=False)["launchRun"],
            f"launching {job}",
        )
        return result["run"]["runId"]

    def submit(
        self,
        source: str,
        *,
        title: str | None = None,
        channel: str | None = None,
        published_date: str | None = None,
        committee: str | None = None,
    ) -> Submission:
        """Register a hearing (partition; its catalog entry is written by the run) and launch all its assets.

        A hearing with a run in progress is not launched again: the submission names that run
        (``already_running``). Runs that still race past this check wait in the run queue, which
        runs one at a time per hearing.
        """
        resolved = resolve_source(source)
        new = self.add_hearing_partition(resolved.key)
        active = [r for r in self.runs_of(resolved.key, limit=5) if not r.finished] if not new else []
        if active:
            return Submission(resolved.key, new, active[0].run_id, already_running=True)
        facts = {"title": title, "channel": channel, "published_date": published_date, "committee": committee}
        config = {"source": source, **{k: v for k, v in facts.items() if v}}
        run_id = self.launch_run(
            HEARING_JOB,
            tags={"dagster/partition": resolved.key, "polsearch/trigger": "api-submit"},
            run_config={"ops": {"raw_audio": {"config": config}}},
        )
        return Submission(resolved.key, new, run_id)

    def register_hearings(self, hearings: Sequence[Mapping[str, str | None]]) -> str:
        """Launch the ``register_hearings`` job (catalog entries + partitions for many hearings); its run id."""
        config = {"ops": {"register_sources": {"config": {"hearings": [dict(h) for h in hearings]}}}}
        return self.launch_run(REGISTER_JOB, run_config=config, tags={"polsearch/trigger": "api-plan"})

    def hearing_keys(self) -> list[str]:
        nodes = self.graphql(GRAPHQL["hearing_keys"], {"assetKeys": asset_keys(HEARING_ASSETS[:1])})[
            "assetNodes"
        ]
        if not nodes:
            raise DagsterApiError(f"{self.url} serves no asset raw_audio: is it a polsearch deployment?")
        return list(nodes[0]["partitionKeys"])

    # -- runs

    def run(self, run_id: str) -> RunState:
        return run_state(
            self._ok(self.graphql(GRAPHQL["run"], {"runId": run_id})["runOrError"], f"run {run_id}")
        )

    def runs_of(self, key: str, limit: int = 1) -> list[RunState]:
        result = self._ok(
            self.graphql(GRAPHQL["runs_of_hearing"], {"key": key, "limit": limit})["runsOrError"],
            f"runs of {key}",
        )
        return [run_state(r) for r in result["results"]]

    def run_error(self, run_id: str) -> str | None:
        """What failed in a run: the failed checks, else the failing steps' errors, else the run's failure."""
        checks, steps, run_failure, cursor = [], [], None, None
        while True:
            result = self._ok(
                self.graphql(GRAPHQL["run_events"], {"runId": run_id, "cursor": cursor})["logsForRun"],
                f"events of run {run_id}",
            )
            for event in result["events"]:
                kind = event["__typename"]
                if kind == "ExecutionStepFailureEvent" and event.get("error"):
                    error = event["error"]
                    causes = [c["message"] for c in error.get("causes") or []]
                    steps.append(f"{event['stepKey']}: {step_error(error['message'], causes)}")
                elif kind == "RunFailureEvent":
                    run_failure = event.get("message")
                elif kind == "AssetCheckEvaluationEvent":
                    evaluation = event["evaluation"]
                    if not evaluation["success"] and evaluation["severity"] == "ERROR":
                        asset = "/".join(evaluation["assetKey"]["path"])
                        checks.append(f"check {asset}/{evaluation['checkName']}: {evaluation['description']}")
            cursor = result["cursor"]
            if not result["hasMore"]:
                break
        if checks:
            return "; ".join(checks)
        return "; ".join(steps) if steps else run_failure

    def wait(
        self,
        run_id: str,
        *,
        on_step: Callable[[StepState], None] | None = None,
        poll_s: float = 1.0,
        timeout_s: float | None = None,
    ) -> RunState:
        """Poll the run until it finishes, reporting each step's status change to ``on_step``."""
        seen: dict[str, str | None] = {}
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            state = self.run(run_id)
            for step in sorted(state.steps, key=lambda s: (s.start_time or float("inf"), s.step)):
                if seen.get(step.step, "-") != step.status:
                    seen[step.step] = step.status
                    if on_step is not None:
                        on_step(step)
            if state.finished:
                return state
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} still {state.status} after {timeout_s:g} s")
            time.sleep(poll_s)

    def status(self, key: str) -> HearingStatus:
        """The hearing's assets (state, staleness), its last run and that run's error: questions about this
        hearing only, whatever the size of the archive (the list of hearings is read only for a key with
        no materialization and no run, to tell a registered hearing from an unknown one)."""
        nodes = self.graphql(
            GRAPHQL["hearing_assets"], {"assetKeys": asset_keys(HEARING_ASSETS), "key": key}
        )["assetNodes"]
        latest = {
            "/".join(n["assetKey"]["path"]): (n["latestMaterializationByPartition"] or [None])[0]
            for n in nodes
        }
        planned = {"/".join(n["assetKey"]["path"]): n["latestRunForPartition"] for n in nodes}
        if not any(latest.values()) and not any(planned.values()) and key not in self.hearing_keys():
            raise UnknownHearing(
                f"no hearing {key} in {self.url} (polsearch submit or polsearch plan registers one)"
            )
        graph, whole = self._with_whole_assets(asset_nodes(nodes))
        provenance = {name: materialization(event) for name, event in latest.items()}

        def current(dep: str) -> Materialization | None:
            return provenance.get(dep) if graph[dep].partitioned else whole[dep]

        run_ids = {run["runId"] for run in planned.values() if run}
        steps = {run_id: {s.step: s.status for s in self.run(run_id).steps} for run_id in run_ids}
        assets = {
            name: asset_state(
                latest[name],
                planned[name],
                steps[planned[name]["runId"]].get(name) if planned[name] else None,
                is_stale(graph[name], provenance[name], current, graph),
            )
            for name in HEARING_ASSETS
            if name in latest
        }
        runs = self.runs_of(key)
        last = self.run(runs[0].run_id) if runs else None
        error = self.run_error(last.run_id) if last and last.status in ("FAILURE", "CANCELED") else None
        return HearingStatus(key, assets, last, error)

    def _with_whole_assets(
        self, graph: dict[str, AssetNode]
    ) -> tuple[dict[str, AssetNode], dict[str, Materialization | None]]:
        """``graph`` with the unpartitioned assets it depends on (``voiceprint_library``), and their latest
        materializations."""
        outside = sorted({dep for node in graph.values() for dep in node.deps} - set(graph))
        if not outside:
            return graph, {}
        nodes = self.graphql(
            GRAPHQL["asset_graph"], {"assetKeys": [{"path": name.split("/")} for name in outside]}
        )["assetNodes"]
        more = asset_nodes(nodes)
        if any(node.partitioned for node in more.values()):
            raise DagsterApiError(
                f"{self.url}: a hearing asset depends on another partitioned asset {outside}"
            )
        whole = {
            "/".join(n["assetKey"]["path"]): materialization((n["assetMaterializations"] or [None])[0])
            for n in nodes
        }
        return graph | more, whole

    # -- named speakers

    def change_speaker_library(self, change: Mapping[str, str]) -> str:
        """Launch the ``speaker_library`` job with one change (``action`` name or forget, ``person``, and for
        name ``hearing``, ``speaker``, optionally ``person_id``, ``role``, ``party``, ``state``); its run id.
        Once it succeeds, the deployment's automation brings every hearing's names up to date."""
        config = {"ops": {"change_speaker_library": {"config": {k: v for k, v in change.items() if v}}}}
        return self.launch_run(
            SPEAKER_LIBRARY_JOB, run_config=config, tags={"polsearch/trigger": "api-speakers"}
        )

    def name_speaker(self, key: str, speaker: str, person: str, **facts: str | None) -> str:
        """Enrol hearing ``key``'s ``speaker`` (``SPEAKER_N``) as ``person``; the run id."""
        if key not in self.hearing_keys():
            raise UnknownHearing(f"no hearing {key} in {self.url}")
        return self.change_speaker_library(
            {"action": "name", "hearing": key, "speaker": speaker, "person": person, **facts}
        )

    def forget_person(self, person: str) -> str:
        """Remove every voiceprint of ``person`` (name or id); the run id."""
        return self.change_speaker_library({"action": "forget", "person": person})

    def _latest_json(self, asset: str, label: str, key: str | None = None) -> Any:
        variables: dict[str, Any] = {"assetKeys": asset_keys([asset])}
        if key is not None:
            variables["partitions"] = [key]
        nodes = self.graphql(GRAPHQL["latest_materialization"], variables)["assetNodes"]
        if not nodes:
            raise DagsterApiError(f"{self.url} serves no asset {asset}: is it a polsearch deployment?")
        found = nodes[0]["assetMaterializations"]
        entries = {e["label"]: e.get("jsonString") for e in (found[0]["metadataEntries"] if found else [])}
        return json.loads(entries[label]) if entries.get(label) else None

    def speaker_library(self) -> list[dict[str, Any]]:
        """The library by person, as its latest change recorded it (``person``, ``person_id``, ...)."""
        return self._latest_json("voiceprint_library", "library") or []

    def hearing_speakers(self, key: str) -> dict[str, Any]:
        """The hearing's ``speaker_names`` as last materialized: ``speakers`` (``speaker``, ``person``,
        ``person_id``, ``similarity``, ``speaking_ms``, ``candidate``) and ``cues`` (introductions heard)."""
        if key not in self.hearing_keys():
            raise UnknownHearing(f"no hearing {key} in {self.url}")
        speakers = self._latest_json("speaker_names", "speaker_names", key)
        if speakers is None:
            raise DagsterApiError(f"hearing {key} has no speaker_names yet (is it fully ingested?)")
        return {"speakers": speakers, "cues": self._latest_json("speaker_names", "cues", key) or []}

    def retry(self, key: str) -> str:
        """Re-execute the hearing's latest run from its failure; the new run's id."""
        runs = self.runs_of(key)
        if not runs:
            raise DagsterApiError(f"hearing {key} has no run to retry; submit it first")
        last = runs[0]
        if last.status not in ("FAILURE", "CANCELED"):
            raise DagsterApiError(
                f"the latest run of {key} ({last.run_id}) is {last.status}, not failed: nothing to retry"
            )
        result = self._ok(
            self.graphql(GRAPHQL["reexecute"], {"parentRunId": last.run_id}, idempotent=False)[
                "launchRunReexecution"
            ],
            f"retrying {key}",
        )
        return result["run"]["runId"]

    # -- backfills

    def plan_backfill(
        self,
        mode: str,
        limit: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        cache_progress: Callable[[int, int], None] | None = None,
    ) -> BackfillPlan:
        """Which hearings (and assets) a backfill of ``mode`` (missing | stale | all) runs, sorted by key.

        ``stale`` asks the deployment's ``stale_hearings`` sensor first (a dry run: it decides from its
        provenance cache, next to the instance); while that cache is still being filled each answer says how
        far it is (``cache_progress(read, left)``) and the sensor is asked again. A deployment without the
        sensor (``stale_sensor`` None, or not found) is asked page by page:
        ``stale`` asks the server about ``STALE_PAGE`` hearings per request, halving the page whenever one
        times out (Dagster computes staleness partition by partition: one request for a whole archive
        outlasts the client's timeout, is retried, and piles up work on the server), only about hearings
        whose audio is materialized (the others are missing, not stale), and stops once ``limit`` stale
        hearings are found.
        ``progress(asked, of)`` is called after each page.
        """
        if mode == "stale" and self.stale_sensor:
            planned = self._stale_by_sensor(limit, cache_progress)
            if planned is not None:
                return BackfillPlan.of(planned)
        keys = sorted(self.hearing_keys())
        if mode == "all":
            chosen = {k: list(HEARING_ASSETS) for k in keys}
        elif mode == "missing":
            chosen = missing_plan(keys, self._partition_statuses())
        elif mode == "stale":
            chosen = self._stale(keys, limit, progress)
        else:
            raise ValueError(f"unknown backfill mode {mode!r}: missing, stale or all")
        return BackfillPlan.of(chosen, limit)

    def _stale_by_sensor(
        self, limit: int | None, cache_progress: Callable[[int, int], None] | None
    ) -> dict[str, list[str]] | None:
        """Hearing -> assets to run, from the ``stale_hearings`` sensor's dry runs (None: no such sensor).

        Each dry run reads at most the sensor's budget of new events into its cache; the sensor is asked
        again while the cache is incomplete, and gives up only when an answer read nothing."""
        selector = {
            "repositoryLocationName": self.location,
            "repositoryName": self.repository,
            "sensorName": self.stale_sensor,
        }
        request = json.dumps({"want": "plan", "max": limit})
        while True:
            result = self.graphql(GRAPHQL["stale_plan"], {"selector": selector, "cursor": request})[
                "sensorDryRun"
            ]
            if result["__typename"] == "SensorNotFoundError":
                return None
            evaluation = self._ok(result, f"asking the {self.stale_sensor} sensor")["evaluationResult"]
            if evaluation["error"]:
                raise DagsterApiError(
                    f"the {self.stale_sensor} sensor failed: {evaluation['error']['message']}"
                )
            state = json.loads(evaluation["cursor"])
            if state["complete"]:
                return {
                    key: list(HEARING_ASSETS[HEARING_ASSETS.index(first) :])
                    for first, keys in state["plan"].items()
                    for key in keys
                }
            if cache_progress is not None:
                cache_progress(state["read"], state["left"])
            if not state["read"]:
                raise DagsterApiError(
                    f"the {self.stale_sensor} sensor read no events ({state['left']} left): is its "
                    "POLSEARCH_STALE_BUDGET_S too small?"
                )

    def _partition_statuses(self) -> dict[str, dict[str, list[str]]]:
        nodes = self.graphql(GRAPHQL["partition_statuses"], {"assetKeys": asset_keys(HEARING_ASSETS)})[
            "assetNodes"
        ]
        return {n["assetKey"]["path"][-1]: n["assetPartitionStatuses"] for n in nodes}

    def _stale(
        self, keys: list[str], limit: int | None, progress: Callable[[int, int], None] | None
    ) -> dict[str, list[str]]:
        nodes = self.graphql(GRAPHQL["asset_graph"], {"assetKeys": asset_keys(HEARING_ASSETS)})["assetNodes"]
        graph, whole = self._with_whole_assets(asset_nodes(nodes))
        statuses = self._partition_statuses()
        # A hearing's asset with no materialization, nor a failed or running attempt, is missing: not asked.
        tried = {
            name: set().union(*(status.get(field, []) for field in _TRIED))
            for name, status in statuses.items()
        }
        candidates = [k for k in keys if k in tried.get(HEARING_ASSETS[0], set())]
        chosen: dict[str, list[str]] = {}
        start, size = 0, STALE_PAGE
        while start < len(candidates):
            page = candidates[start : start + size]
            try:  # not retried as it is: a page that timed out is asked again in halves
                first = self._first_stale(page, graph, whole, tried)
            except DagsterTimeout:
                if size == 1:
                    raise
                size //= 2
                continue
            chosen |= stale_plan(page, first)
            start += len(page)
            if progress is not None:
                progress(start, len(candidates))
            if limit is not None and len(chosen) >= limit:
                break
        return chosen

    def _first_stale(
        self,
        page: list[str],
        graph: Mapping[str, AssetNode],
        whole: Mapping[str, Materialization | None],
        tried: Mapping[str, set[str]],
    ) -> dict[str, set[str]]:
        """Asset -> the hearings of ``page`` whose first stale asset it is.

        Asset by asset in graph order, one request each, asking only about the hearings not yet found stale
        (their later assets no longer change the plan) that have tried that asset.
        """
        latest: dict[str, dict[str, Materialization | None]] = {}
        first: dict[str, set[str]] = {}
        stale: set[str] = set()
        for name in HEARING_ASSETS:
            asked = [k for k in page if k not in stale and k in tried.get(name, set())]
            if not asked:
                continue
            node = self.graphql(
                GRAPHQL["latest_provenance"],
                {"assetKeys": asset_keys([name]), "keys": asked},
            )["assetNodes"][0]
            latest[name] = dict(
                zip(asked, map(materialization, node["latestMaterializationByPartition"]), strict=True)
            )
            if found := stale_in(name, asked, latest, graph, whole):
                first[name] = found
                stale |= found
        return first

    def launch_backfill(self, plan: BackfillPlan, *, title: str) -> str:
        """One asset backfill over the plan's hearings; its id (its runs are paced by the run queue)."""
        if not plan.keys:
            raise ValueError("nothing to backfill")
        by_asset: dict[str, list[str]] = {}
        for key, assets in plan.assets_by_key.items():
            for asset in assets:
                by_asset.setdefault(asset, []).append(key)
        params = {
            "partitionsByAssets": [
                {
                    "assetKey": {"path": [asset]},
                    "partitions": {"ranges": [{"start": k, "end": k} for k in keys]},
                }
                for asset, keys in by_asset.items()
            ],
            "title": title,
            "tags": tag_list({"polsearch/trigger": "api-backfill"}),
        }
        result = self._ok(
            self.graphql(GRAPHQL["launch_backfill"], {"backfillParams": params}, idempotent=False)[
                "launchPartitionBackfill"
            ],
            "launching the backfill",
        )
        return result["backfillId"]

    def backfill(self, backfill_id: str) -> dict[str, Any]:
        return self._ok(
            self.graphql(GRAPHQL["backfill"], {"backfillId": backfill_id})["partitionBackfillOrError"],
            f"backfill {backfill_id}",
        )
