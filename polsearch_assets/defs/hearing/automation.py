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

and only once its upstream is present, not in progress, and its upstream's blocking
checks passed. Many hearings requested at once (a model change) go out as one
backfill, whose runs the run queue limits in ``dagster.yaml`` pace.

A tick costs what changed, not the size of the archive: the trigger comes first, so the other
conditions only look at the hearings it picked, and the upstream checks are asked about those
hearings alone (``BlockingChecksPassed``; Dagster's own ``all_deps_blocking_checks_passed`` reads
the state of every partition of every check, one query per hearing, on any tick where one hearing
changed: 30 s at 10,000 hearings).
"""

from __future__ import annotations

from collections import Counter

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

AC = dg.AutomationCondition
AUTOMATION_INTERVAL_S = 30


# Runs of the whole-hearing job carry this tag (jobs.py): what they update is never followed up.
WHOLE_HEARING_TAG = {"polsearch/scope": "whole-hearing"}


def upstream_updated_alone() -> dg.AutomationCondition:
    """An upstream asset was updated by a run that was not there to update this one too.

    Dagster's ``any_deps_updated`` counts a dependency updated by a job run whose asset selection
    is implicit (``hearing_pipeline`` launched by the sensor, ``submit``, ``ingest``) as updated
    "without" this asset, and only timing kept automation from running the downstream stages a
    second time. Nor is a terminated or failed hearing run continued behind the user's back: its
    partial updates are not followed; ``polsearch retry`` (or Re-execute) finishes it.
    """
    return AC.any_deps_match(
        (
            AC.newly_updated()
            & ~AC.executed_with_root_target()
            & ~AC.executed_with_tags(tag_values=WHOLE_HEARING_TAG)
        ).with_label("updated by a run that did not cover this asset")
        | AC.will_be_requested()
    ).with_label("any_deps_updated")


class BlockingChecksPassed(dg.AutomationCondition):
    """True for the partitions (of the candidates) where every blocking check of this asset ran on the
    partition's latest materialization and passed; true everywhere for an asset without one.

    Asks the event log about the candidate partitions only (one query per check), so it costs the
    hearings that changed, whatever the size of the archive.
    """

    @property
    def name(self) -> str:
        return "blocking_checks_passed"

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        graph, candidates = context.asset_graph, context.candidate_subset
        partitions_def = context.partitions_def
        checks = [key for key in graph.get(context.key).check_keys if graph.get(key).blocking]
        if not checks or candidates.is_empty or partitions_def is None:
            return dg.AutomationResult(context=context, true_subset=candidates)
        keys = list(candidates.expensively_compute_partition_keys())
        passed = Counter(
            info.partition_key
            for info in context.asset_graph_view.instance.event_log_storage.get_asset_check_partition_info(
                checks, partition_keys=keys
            )
            if info.latest_execution_status == AssetCheckExecutionRecordStatus.SUCCEEDED and info.is_current
        )
        blocked = {key for key in keys if passed[key] < len(checks)}
        if not blocked:
            return dg.AutomationResult(context=context, true_subset=candidates)
        blocked_subset = context.asset_graph_view.get_subset_from_partition_keys(
            context.key, partitions_def, blocked
        )
        return dg.AutomationResult(context=context, true_subset=candidates.compute_difference(blocked_subset))


def all_deps_blocking_checks_passed() -> dg.AutomationCondition:
    """Dagster's ``all_deps_blocking_checks_passed`` (a dependency about to be requested counts as
    passed: its checks run in the same run and stop it there), asking only about the candidates."""
    return AC.all_deps_match(BlockingChecksPassed() | AC.will_be_requested()).with_label(
        "all_deps_blocking_checks_passed"
    )


def follow_upstream(optional: dg.AssetSelection | None = None) -> dg.AutomationCondition:
    """``optional`` upstream assets trigger a run when updated, but their absence blocks nothing (the
    voiceprint library: a hearing's speakers are matched against an empty library too)."""
    missing, in_progress, checks = (
        AC.any_deps_missing(),
        AC.any_deps_in_progress(),
        all_deps_blocking_checks_passed(),
    )
    if optional is not None:
        missing, in_progress, checks = (
            missing.ignore(optional),
            in_progress.ignore(optional),
            checks.ignore(optional),
        )
    trigger = (
        upstream_updated_alone()
        | (AC.code_version_changed() & ~AC.missing()).with_label("model or code changed")
    ).since_last_handled()
    return (trigger & ~missing & ~in_progress & ~AC.in_progress() & checks).with_label(
        "follow upstream and model changes"
    )


hearing_automation = dg.AutomationConditionSensorDefinition(
    "hearing_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=AUTOMATION_INTERVAL_S,
    emit_backfills=True,
    # BlockingChecksPassed is our own condition: the code location evaluates it, not the daemon.
    use_user_code_server=True,
    run_tags={"polsearch/trigger": "automation"},
    description="Brings each hearing's downstream assets up to date after an upstream re-materialization or a "
    "model change (see polsearch_assets/automation.py).",
)
