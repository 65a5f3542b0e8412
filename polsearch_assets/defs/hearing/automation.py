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
"""

from __future__ import annotations

import dagster as dg

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


def follow_upstream(optional: dg.AssetSelection | None = None) -> dg.AutomationCondition:
    """``optional`` upstream assets trigger a run when updated, but their absence blocks nothing (the
    voiceprint library: a hearing's speakers are matched against an empty library too)."""
    missing, in_progress, checks = (
        AC.any_deps_missing(),
        AC.any_deps_in_progress(),
        AC.all_deps_blocking_checks_passed(),
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
    run_tags={"polsearch/trigger": "automation"},
    description="Brings each hearing's downstream assets up to date after an upstream re-materialization or a "
    "model change (see polsearch_assets/automation.py).",
)
