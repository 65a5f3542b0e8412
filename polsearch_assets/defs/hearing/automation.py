"""Declarative automation: downstream assets follow their upstream and model changes, hearing by hearing.

``raw_audio`` has no condition: a hearing starts when the uploads sensor, the CLI or
the GraphQL API asks for it. Every later stage is requested for a hearing when

* an upstream asset of that hearing was updated by a run that did not also plan this
  asset (re-materializing ``raw_audio`` of one hearing re-runs that hearing's
  downstream stages; a run of the whole-hearing job triggers nothing more, even one that stopped
  partway: retry finishes it), or
* the voiceprint library changed (``speaker_names`` of every hearing, then its index rows: names
  follow the library without ASR or diarization running again), or
* the asset's ``code_version`` changed (a new model or backend) and the hearing had
  been materialized before (hearings never run stay as they are),

and only once its upstream is present (or requested in the same tick), not in progress, and its
upstream's blocking checks passed, and while no run or backfill of it for that hearing is under way.
Many hearings requested at once (a model change) go out as one
backfill, whose runs the run queue limits in ``dagster.yaml`` pace.

A tick costs what changed, not the size of the archive, as far as our conditions go. The trigger comes
first, so the other conditions only look at the hearings it picked, and the conditions that ask storage
are our own (``UpstreamUpdatedAlone``, ``UpstreamReady``, ``Materialized``): they ask the event log about
those hearings alone, each question once a tick. Dagster's ``missing`` / ``in_progress`` read each asset's
partition status cache, which every new event makes it rebuild from all partition keys, and its
``all_deps_blocking_checks_passed`` reads the state of every partition of every check (30 s at 10,000
hearings). What still grows with the archive is Dagster's: each condition node's subsets are stored by
walking all partition keys (``bench/repro_dynamic_subset_ranges.py``), so the tree is kept small (12 nodes
per asset: what remains of Dagster's is ``SINCE`` with its reset, ``code_version_changed`` and the boolean
operators). BENCHMARKS.md, "Fourth round: candidate-only conditions", has the figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any
from weakref import WeakKeyDictionary

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph import executable_in_same_run
from dagster._core.events import DagsterEventType
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.dagster_run import FINISHED_STATUSES

AC = dg.AutomationCondition
AUTOMATION_INTERVAL_S = 30


# Runs of the whole-hearing job carry this tag (jobs.py): what they update is never followed up.
WHOLE_HEARING_TAG = {"polsearch/scope": "whole-hearing"}


class UpstreamUpdatedAlone(dg.AutomationCondition):
    """An upstream asset was updated since the previous tick by a run that was not there to update this one
    too, or will be requested in this tick.

    Dagster's ``any_deps_updated`` counts a dependency updated by a job run whose asset selection is implicit
    (``hearing_pipeline`` launched by the sensor, ``submit``, ``ingest``) as updated "without" this asset, and
    only timing kept automation from running the downstream stages a second time; so a run of the
    whole-hearing job (``WHOLE_HEARING_TAG``) is not followed either. Nor is a terminated or failed hearing
    run continued behind the user's back: its partial updates are not followed; ``polsearch retry`` (or
    Re-execute) finishes it.

    Dagster's ``any_deps_match(newly_updated & ~executed_with_root_target & ~executed_with_tags |
    will_be_requested)`` as one node: the same computations of Dagster's asset graph view (the events after the
    previous tick's cursor, the runs that made them), without the nine nodes per upstream asset whose subsets
    Dagster stores by walking every partition key. It carries no timing, as Dagster's ``AND`` and ``OR`` did
    not pass it on to ``SINCE`` either.
    """

    @property
    def name(self) -> str:
        return "upstream_updated_alone"

    @property
    def description(self) -> str:
        return "An upstream asset updated by a run that did not cover this asset, or requested in this tick"

    @property
    def requires_cursor(self) -> bool:
        return False

    async def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        candidates = context.candidate_subset
        if candidates.is_empty:
            return dg.AutomationResult(context=context, true_subset=candidates)
        view, graph, root = context.asset_graph_view, context.asset_graph, context.root_context.key
        previous = context.previous_temporal_context
        found = context.get_empty_subset()
        for dep in sorted(k for k in graph.get(context.key).parent_entity_keys if isinstance(k, dg.AssetKey)):
            upstream = candidates.compute_mapped_subset(dep, direction="up")
            updated = view.get_empty_subset(key=dep)
            if previous is not None and not upstream.is_empty:
                updated = (
                    await view.compute_updated_since_temporal_context_subset(
                        key=dep, temporal_context=previous
                    )
                ).compute_intersection(upstream)

            def with_root(run: Any, dep: dg.AssetKey = dep) -> bool:  # executed_with_root_target
                selection = (run.dagster_run.asset_selection or set()) | (
                    run.dagster_run.asset_check_selection or set()
                )
                return dep != root and root in selection

            def whole_hearing(run: Any) -> bool:  # executed_with_tags(tag_values=WHOLE_HEARING_TAG)
                return all(run.dagster_run.tags.get(k) == v for k, v in WHOLE_HEARING_TAG.items())

            for covered in (with_root, whole_hearing):
                if not updated.is_empty:
                    updated = updated.compute_difference(
                        await view.compute_latest_run_matches_subset(from_subset=updated, filter_fn=covered)
                    )
            requested = context.request_subsets_by_key.get(dep)
            if requested is not None and _requested_in_same_run(graph, root, dep):
                updated = updated.compute_union(requested)
            found = found.compute_union(updated.compute_mapped_subset(context.key, direction="down"))
        return dg.AutomationResult(context=context, true_subset=candidates.compute_intersection(found))


# More candidates than this: ask about the whole asset once instead of naming each partition (a model change).
NAMED_PARTITIONS_LIMIT = 1000


# What a tick asked the event log, per tick (its asset graph view): an upstream asset is asked about once,
# not again for each asset downstream of it.
_ASKED: WeakKeyDictionary[Any, dict[tuple[dg.AssetKey, DagsterEventType, frozenset[str]], dict[str, int]]] = (
    WeakKeyDictionary()
)


def _latest_ids(
    view: Any, key: dg.AssetKey, event_type: DagsterEventType, partitions: Collection[str]
) -> dict[str, int]:
    """The latest storage id of an event of ``event_type`` per partition, for those of ``partitions`` that have
    one (the event log, one query a tick; Dagster's asset wipes respected)."""
    if not partitions:
        return {}
    asked, question = _ASKED.setdefault(view, {}), (key, event_type, frozenset(partitions))
    if question not in asked:
        storage = view.instance.event_log_storage
        if len(partitions) > NAMED_PARTITIONS_LIMIT:
            every = storage.get_latest_storage_id_by_partition(key, event_type)
            asked[question] = {p: every[p] for p in partitions if p in every}
        else:
            asked[question] = dict(
                storage.get_latest_storage_id_by_partition(key, event_type, partitions=set(partitions))
            )
    return asked[question]


def _run_in_progress(
    view: Any,
    key: dg.AssetKey,
    partitions: Collection[str],
    materialized: Mapping[str, int],
) -> set[str]:
    """Those of ``partitions`` whose latest planned materialization of ``key`` has no materialization after it
    and belongs to a run that has not finished (queued, starting, started, canceling): Dagster's
    ``run_in_progress`` as its partition status cache computes it, asked about these partitions only."""
    planned = _latest_ids(view, key, DagsterEventType.ASSET_MATERIALIZATION_PLANNED, partitions)
    instance = view.instance
    pending = {p: sid for p, sid in planned.items() if sid > materialized.get(p, 0)}
    if not pending:
        return set()
    records = instance.fetch_planned_materializations(
        dg.AssetRecordsFilter(asset_key=key, storage_ids=list(pending.values())), limit=len(pending)
    ).records
    run_of = {record.storage_id: record.run_id for record in records}
    unfinished = {
        run.run_id
        for run in instance.get_runs(filters=dg.RunsFilter(run_ids=sorted(set(run_of.values()))))
        if run.status not in FINISHED_STATUSES
    }  # a deleted run is neither in progress nor failed, as in Dagster's status cache
    return {p for p, sid in pending.items() if run_of.get(sid) in unfinished}


def _checks_not_passed(
    instance: dg.DagsterInstance, checks: Sequence[dg.AssetCheckKey], partitions: Collection[str]
) -> set[str]:
    """Those of ``partitions`` where some blocking check of ``checks`` did not run on the partition's latest
    materialization and pass (one query per check)."""
    if not checks or not partitions:
        return set()
    passed = Counter(
        info.partition_key
        for info in instance.event_log_storage.get_asset_check_partition_info(
            list(checks), partition_keys=list(partitions)
        )
        if info.latest_execution_status == AssetCheckExecutionRecordStatus.SUCCEEDED and info.is_current
    )
    return {p for p in partitions if passed[p] < len(checks)}


class UpstreamReady(dg.AutomationCondition):
    """True for the candidate partitions whose upstream is ready and that are not being run already:

    * no upstream asset is missing, unless it will be requested in this tick (Dagster's ``any_deps_missing``),
    * no upstream asset is in a run or backfill that has not materialized it yet (``any_deps_in_progress``),
    * this asset is in no such run or backfill (``in_progress``),
    * every blocking check of every upstream asset ran on its latest materialization and passed, unless
      that asset will be requested in this tick (``all_deps_blocking_checks_passed``); the checks then run in
      the same run and stop it there.

    Upstream assets in ``optional`` are not looked at. The same answers as Dagster's conditions
    (``polsearch_assets_tests/integration/test_automation.py`` compares them on one instance), but asked
    about the candidates alone: the event log's latest materialization and planned materialization of those
    partitions, the runs of those that were planned and not materialized, the checks of those partitions.
    Dagster's ``missing`` and ``in_progress`` read each asset's partition status cache instead, which
    every new event makes it rebuild from all partition keys, and each of their ~30 nodes per asset is
    stored with subsets serialized by walking all keys: both grow with the archive. An unpartitioned
    upstream asset (none today) is asked through Dagster's own computations, which read its asset record.
    """

    def __init__(self, optional: dg.AssetSelection | None = None) -> None:
        self.optional = optional

    @property
    def name(self) -> str:
        return "upstream_ready"

    @property
    def description(self) -> str:
        return (
            "Upstream present or requested now, not in progress, its blocking checks passed; "
            "this asset not in progress"
        )

    @property
    def requires_cursor(self) -> bool:
        return False

    async def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        candidates = context.candidate_subset
        if candidates.is_empty:
            return dg.AutomationResult(context=context, true_subset=candidates)
        view, graph, root = context.asset_graph_view, context.asset_graph, context.root_context.key
        deps = {k for k in graph.get(context.key).parent_entity_keys if isinstance(k, dg.AssetKey)}
        if self.optional is not None:
            deps -= self.optional.resolve(graph, allow_missing=True)
        blocked = await _in_progress(view, context.key, candidates)
        for dep in sorted(deps):
            upstream = candidates.compute_mapped_subset(dep, direction="up")
            requested = context.request_subsets_by_key.get(dep)
            if requested is None or not _requested_in_same_run(graph, root, dep):
                requested = view.get_empty_subset(key=dep)
            node = graph.get(dep)
            if node.partitions_def is None or not node.is_materializable:
                missing = await view.compute_missing_subset(key=dep, from_subset=upstream)
                not_ready = missing.compute_difference(requested)
                # An unpartitioned upstream's checks are not asked (nor were they before this condition).
            else:
                partitions = upstream.expensively_compute_partition_keys()
                wanted = requested.expensively_compute_partition_keys() & partitions
                # The same question _in_progress asks below: the event log is asked once a tick (_latest_ids).
                materialized = _latest_ids(view, dep, DagsterEventType.ASSET_MATERIALIZATION, partitions)
                checks = [k for k in node.check_keys if graph.get(k).blocking]
                keys = {
                    p for p in partitions if p not in materialized and p not in wanted
                } | _checks_not_passed(view.instance, checks, partitions - wanted)
                not_ready = view.get_subset_from_partition_keys(dep, node.partitions_def, keys)
            not_ready = not_ready.compute_union(await _in_progress(view, dep, upstream))
            blocked = blocked.compute_union(not_ready.compute_mapped_subset(context.key, direction="down"))
        return dg.AutomationResult(context=context, true_subset=candidates.compute_difference(blocked))


async def _in_progress(view: Any, key: dg.AssetKey, subset: Any) -> Any:
    """The part of ``subset`` (of ``key``) in a run or backfill that has not materialized it yet."""
    backfill = await view.compute_backfill_in_progress_subset(key=key, from_subset=subset)
    node = view.asset_graph.get(key)
    if node.partitions_def is None or not node.is_materializable:
        run = await view.compute_run_in_progress_subset(key=key, from_subset=subset)
    else:
        partitions = subset.expensively_compute_partition_keys()
        materialized = _latest_ids(view, key, DagsterEventType.ASSET_MATERIALIZATION, partitions)
        run = view.get_subset_from_partition_keys(
            key, node.partitions_def, _run_in_progress(view, key, partitions, materialized)
        )
    return subset.compute_intersection(run.compute_union(backfill))


def _requested_in_same_run(graph: Any, root: dg.AssetKey, dep: dg.AssetKey) -> bool:
    """Dagster's ``will_be_requested`` counts a dependency requested this tick only when it can run in the
    same run as the asset whose condition asks, and is materializable."""
    return (
        executable_in_same_run(asset_graph=graph, child_key=root, parent_key=dep)
        and graph.get(dep).is_materializable
    )


class Materialized(dg.AutomationCondition):
    """True for the candidate partitions of this asset that were materialized before (Dagster's ``~missing()``
    for a partitioned asset), asked of the event log about the candidates, not read from the partition status
    cache."""

    @property
    def name(self) -> str:
        return "materialized"

    @property
    def requires_cursor(self) -> bool:
        return False

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        candidates, partitions_def = context.candidate_subset, context.partitions_def
        if candidates.is_empty or partitions_def is None:
            return dg.AutomationResult(context=context, true_subset=candidates)
        keys = candidates.expensively_compute_partition_keys()
        done = _latest_ids(
            context.asset_graph_view, context.key, DagsterEventType.ASSET_MATERIALIZATION, keys
        )
        return dg.AutomationResult(
            context=context,
            true_subset=context.asset_graph_view.get_subset_from_partition_keys(
                context.key, partitions_def, set(done)
            ),
        )


def follow_upstream(optional: dg.AssetSelection | None = None) -> dg.AutomationCondition:
    """``optional`` upstream assets trigger a run when updated, but their absence blocks nothing (the
    voiceprint library: a hearing's speakers are matched against an empty library too)."""
    trigger = (
        UpstreamUpdatedAlone()
        | (AC.code_version_changed() & Materialized()).with_label("model or code changed")
    ).since_last_handled()
    return (trigger & UpstreamReady(optional)).with_label("follow upstream and model changes")


hearing_automation = dg.AutomationConditionSensorDefinition(
    "hearing_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=AUTOMATION_INTERVAL_S,
    emit_backfills=True,
    # UpstreamReady and Materialized are our own conditions: the code location evaluates them, not the daemon.
    use_user_code_server=True,
    run_tags={"polsearch/trigger": "automation"},
    description="Brings each hearing's downstream assets up to date after an upstream re-materialization or a "
    "model change (see polsearch_assets/automation.py).",
)
