"""Declarative automation on real materializations: exactly the affected hearings' downstream assets are requested."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,  # the type of a public AssetCheckEvaluation field
)
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.instance.ref import InstanceRef

from polsearch_assets.defs.hearing.automation import (
    WHOLE_HEARING_TAG,
    UpstreamReady,
    follow_upstream,
    hearing_automation,
)
from polsearch_assets.defs.hearing.checks import HEARING_CHECKS, raw_audio_contract
from polsearch_assets.defs.hearing.jobs import hearing_pipeline
from polsearch_assets.defs.hearing.registration import register_hearing
from polsearch_assets_tests.fixtures.archive import record_archive_hearings, record_as_run
from polsearch_assets_tests.fixtures.hearing import assets_for, hearing_resources, run_hearing
from polsearch_assets_tests.fixtures.media import REPO, silent_wav

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test

DOWNSTREAM = [
    "vad_chunks", "transcript", "diarization", "aligned_segments", "speaker_names", "hearing_index", "word_archive"
]  # fmt: skip
AFTER_TRANSCRIPT = ["transcript", "aligned_segments", "speaker_names", "hearing_index", "word_archive"]


AC = dg.AutomationCondition
STAGES = dg.define_asset_job(
    "stages", selection=dg.AssetSelection.assets("raw_audio", *DOWNSTREAM)
)  # untagged
ConditionFor = Callable[[dg.AssetSelection | None], dg.AutomationCondition]


def graph(
    resources: dict[str, object],
    transcript_version: str | None = None,
    conditions: ConditionFor | None = None,
) -> dg.Definitions:
    """The hearing graph; with ``conditions``, each following asset's condition is ``conditions(optional)``
    instead, ``optional`` being the upstream assets its ``UpstreamReady`` ignores."""
    assets = assets_for(resources)
    if conditions is not None:
        assets = [
            dg.map_asset_specs(
                lambda spec: (
                    spec.replace_attributes(
                        automation_condition=conditions(upstream_ready_of(spec.automation_condition).optional)
                    )
                    if spec.automation_condition
                    else spec
                ),
                [a],
            )[0]
            for a in assets
        ]
    if (
        transcript_version
    ):  # what a new ASR model does to the code location: transcript's code_version changes
        assets = [
            dg.map_asset_specs(lambda spec: spec.replace_attributes(code_version=transcript_version), [a])[0]
            if a.key == dg.AssetKey("transcript")
            else a
            for a in assets
        ]
    return dg.Definitions(
        assets=assets, asset_checks=HEARING_CHECKS, jobs=[hearing_pipeline, STAGES], resources=resources
    )


def upstream_ready_of(condition: dg.AutomationCondition) -> UpstreamReady:
    if isinstance(condition, UpstreamReady):
        return condition
    found = [c for child in condition.children if (c := _find_ready(child))]
    assert len(found) == 1, condition
    return found[0]


def _find_ready(condition: dg.AutomationCondition) -> UpstreamReady | None:
    if isinstance(condition, UpstreamReady):
        return condition
    return next((c for child in condition.children if (c := _find_ready(child))), None)


def dagster_ready(optional: dg.AssetSelection | None) -> dg.AutomationCondition:
    """What ``UpstreamReady`` answers, from Dagster's own conditions (as follow_upstream had them before):
    upstream not missing unless requested now, not in progress, this asset not in progress, the upstream's
    blocking checks passed unless it is requested now."""

    def deps(condition: dg.AutomationCondition) -> dg.AutomationCondition:
        return condition.ignore(optional) if optional is not None else condition

    checks = AC.all_deps_match(
        AC.all_checks_match(AC.check_passed(), blocking_only=True) | AC.will_be_requested()
    )
    return ~deps(AC.any_deps_missing()) & ~deps(AC.any_deps_in_progress()) & ~AC.in_progress() & deps(checks)


def dagster_upstream_updated_alone() -> dg.AutomationCondition:
    """What ``UpstreamUpdatedAlone`` answers, from Dagster's own conditions (as follow_upstream had them before)."""
    return AC.any_deps_match(
        (
            AC.newly_updated()
            & ~AC.executed_with_root_target()
            & ~AC.executed_with_tags(tag_values=WHOLE_HEARING_TAG)
        )
        | AC.will_be_requested()
    )


def dagster_follow_upstream(optional: dg.AssetSelection | None) -> dg.AutomationCondition:
    """follow_upstream as it was made of Dagster's own conditions (``UpstreamUpdatedAlone``, ``Materialized`` and
    ``UpstreamReady`` are ours)."""
    trigger = (
        dagster_upstream_updated_alone()
        | (AC.code_version_changed() & ~AC.missing()).with_label("model or code changed")
    ).since_last_handled()
    return trigger & dagster_ready(optional)


def ours_ready(optional: dg.AssetSelection | None) -> dg.AutomationCondition:
    return UpstreamReady(optional)


RUNS_ON = {
    # hearing: the assets a run of it planned (and did not materialize), and how that run stands
    "running": (AFTER_TRANSCRIPT, dg.DagsterRunStatus.STARTED),
    "not-started": (["vad_chunks"], dg.DagsterRunStatus.NOT_STARTED),
    "failed-run": (AFTER_TRANSCRIPT, dg.DagsterRunStatus.FAILURE),
    "audio-failed-run": (DOWNSTREAM, dg.DagsterRunStatus.FAILURE),
}


def record_every_state(instance: dg.DagsterInstance, defs: dg.Definitions) -> None:
    """Hearings in each state the upstream conditions tell apart, on a real instance: complete; a failed
    blocking check; never run; only the audio (checked, unchecked, with a failed run after it); and complete
    hearings with a run of their later stages started, not started yet or failed (the runs are Dagster's own records,
    with their planned materializations, as a launched run has them)."""
    record_archive_hearings(
        instance,
        defs,
        ["complete", "vad-failed", "running", "not-started", "failed-run"],
        failed={"vad-failed": "vad_chunks"},
    )
    instance.add_dynamic_partitions("hearings", ["new", "audio-only", "audio-unchecked", "audio-failed-run"])
    asset_graph, audio = defs.resolve_asset_graph(), dg.AssetKey("raw_audio")
    for key in ["audio-only", "audio-unchecked", "audio-failed-run"]:
        record_as_run(
            instance, asset_graph, audio, key, data_version=key, read={}, checks=key != "audio-unchecked"
        )
    job = defs.resolve_job_def("hearing_pipeline")
    for key, (assets, status) in RUNS_ON.items():
        run = instance.create_run_for_job(
            job,
            asset_selection={dg.AssetKey(a) for a in assets},
            tags={"dagster/partition": key},
            status=dg.DagsterRunStatus.STARTED if status == dg.DagsterRunStatus.FAILURE else status,
        )
        if status == dg.DagsterRunStatus.FAILURE:
            instance.report_run_failed(run)


def requested(result: dg.EvaluateAutomationConditionsResult) -> dict[str, list[str]]:
    found = {}
    for asset in ["raw_audio", *DOWNSTREAM]:
        partitions = result.get_requested_partitions(dg.AssetKey(asset))
        if partitions:
            found[asset] = sorted(partitions)
    return found


def test_upstream_and_model_changes_request_exactly_the_affected_hearings(tmp_path: Path) -> None:
    resources = hearing_resources(tmp_path)
    with dg.instance_for_test() as instance:
        first, result = run_hearing(instance, resources, silent_wav(tmp_path / "one.wav", 3))
        assert result.success
        second, result = run_hearing(instance, resources, silent_wav(tmp_path / "two.wav", 4))
        assert result.success
        never_run = register_hearing(
            instance, resources["artifact_store"], str(silent_wav(tmp_path / "three.wav", 5))
        )
        never_run_key = never_run.entry.key

        tick = dg.evaluate_automation_conditions(defs=graph(resources), instance=instance)
        assert requested(tick) == {}  # full pipeline runs leave nothing to do; unrun hearings are not started

        # Re-materialize the first hearing's audio (with its check), as a user would from the UI.
        again = dg.materialize(
            [*assets_for(resources), raw_audio_contract],
            selection=dg.AssetSelection.assets("raw_audio") | dg.AssetSelection.checks(raw_audio_contract),
            partition_key=first,
            instance=instance,
            resources=resources,
        )
        assert again.success
        tick = dg.evaluate_automation_conditions(defs=graph(resources), instance=instance, cursor=tick.cursor)
        assert requested(tick) == {asset: [first] for asset in DOWNSTREAM}

        # The daemon would launch that run; do it, then the next tick has nothing left.
        selection = dg.AssetSelection.assets(*DOWNSTREAM)
        follow = dg.materialize(
            [*assets_for(resources), *HEARING_CHECKS],
            partition_key=first,
            instance=instance,
            resources=resources,
            selection=selection,
        )
        assert follow.success
        tick = dg.evaluate_automation_conditions(defs=graph(resources), instance=instance, cursor=tick.cursor)
        assert requested(tick) == {}

        # A new ASR model: transcript and what depends on it, for every hearing materialized before.
        tick = dg.evaluate_automation_conditions(
            defs=graph(resources, "transcript-v2"), instance=instance, cursor=tick.cursor
        )
        assert requested(tick) == {asset: sorted([first, second]) for asset in AFTER_TRANSCRIPT}
        assert never_run_key not in {k for keys in requested(tick).values() for k in keys}
        tick = dg.evaluate_automation_conditions(
            defs=graph(resources, "transcript-v2"), instance=instance, cursor=tick.cursor
        )
        assert requested(tick) == {}


def test_raw_audio_has_no_condition_and_the_rest_follow(tmp_path: Path) -> None:
    assets = assets_for(hearing_resources(tmp_path))
    conditions = {a.key.to_user_string(): a.automation_conditions_by_key.get(a.key) for a in assets}
    assert conditions.pop("raw_audio") is None
    assert all(
        c is not None and c.get_label() == "follow upstream and model changes" for c in conditions.values()
    )


@pytest.mark.parametrize("config", ["polsearch_assets/local/dagster.yaml"])
def test_backlogs_go_out_as_bounded_backfills(tmp_path: Path, config: str) -> None:
    assert hearing_automation.emit_backfills  # a model change becomes one backfill, not a run per hearing
    (tmp_path / "dagster.yaml").write_text((REPO / config).read_text())
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
        queue = instance.get_concurrency_config().run_queue_config
        assert instance.run_coordinator.dequeue_interval_seconds == 1  # a submitted hearing starts promptly
    assert queue.max_concurrent_runs == 2
    assert {"key": "dagster/backfill", "limit": 1} in queue.tag_concurrency_limits
    assert yaml.safe_load((REPO / config).read_text())["concurrency"]["runs"]["max_concurrent_runs"] == 2


def test_a_whole_hearing_run_that_stopped_partway_is_not_continued(tmp_path: Path) -> None:
    """A hearing_pipeline run updates upstream assets without naming the downstream ones in its
    selection; automation must neither repeat what such a run did nor finish a run a user terminated."""
    resources = hearing_resources(tmp_path)
    defs = dg.Definitions(
        assets=assets_for(resources),
        asset_checks=HEARING_CHECKS,
        jobs=[hearing_pipeline],
        resources=resources,
    )
    with dg.instance_for_test() as instance:
        key = register_hearing(
            instance, resources["artifact_store"], str(silent_wav(tmp_path / "one.wav", 3))
        ).entry.key
        tick = dg.evaluate_automation_conditions(defs=graph(resources), instance=instance)
        # What a terminated run leaves: the first stages of the whole-hearing job, the rest not run.
        stopped = defs.resolve_job_def("hearing_pipeline").execute_in_process(
            instance=instance,
            partition_key=key,
            asset_selection=[dg.AssetKey("raw_audio"), dg.AssetKey("vad_chunks")],
        )
        assert stopped.success and stopped.dagster_run.tags["polsearch/scope"] == "whole-hearing"
        tick = dg.evaluate_automation_conditions(defs=graph(resources), instance=instance, cursor=tick.cursor)
        assert requested(tick) == {}


def test_a_failed_blocking_check_keeps_a_model_change_off_that_hearing(tmp_path: Path) -> None:
    resources = hearing_resources(tmp_path)
    defs = graph(resources)
    with dg.instance_for_test() as instance:
        # hearing-b's VAD chunks were checked again later and failed (an artifact edited by hand, say).
        record_archive_hearings(
            instance, defs, ["hearing-a", "hearing-b"], failed={"hearing-b": "vad_chunks"}
        )
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert requested(tick) == {}
        tick = dg.evaluate_automation_conditions(
            defs=graph(resources, "transcript-v2"), instance=instance, cursor=tick.cursor
        )
        assert requested(tick) == {asset: ["hearing-a"] for asset in AFTER_TRANSCRIPT}


def test_a_changed_hearing_costs_the_same_queries_in_a_larger_archive(tmp_path: Path) -> None:
    """The tick after one hearing's raw_audio is re-materialized asks storage (nearly) as many questions with
    43 hearings as with 3: fewer than one more per hearing (bench/bench_archive.py has the times)."""
    resources = hearing_resources(tmp_path)
    defs = graph(resources)
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:  # SQLAlchemy event
        statements.append(statement)

    with dg.instance_for_test() as instance:
        first, result = run_hearing(instance, resources, silent_wav(tmp_path / "one.wav", 3))
        assert result.success

        def one_changed_tick(
            cursor: dg.AssetDaemonCursor,
        ) -> tuple[int, dg.EvaluateAutomationConditionsResult]:
            again = dg.materialize(
                [*assets_for(resources), raw_audio_contract],
                selection=dg.AssetSelection.assets("raw_audio")
                | dg.AssetSelection.checks(raw_audio_contract),
                partition_key=first,
                instance=instance,
                resources=resources,
            )
            assert again.success
            statements.clear()
            sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
            try:
                tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
            finally:
                sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)
            assert requested(tick) == {asset: [first] for asset in DOWNSTREAM}
            return len(statements), tick

        record_archive_hearings(instance, defs, [f"small-{i}" for i in range(2)])
        small, tick = one_changed_tick(dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor)
        record_archive_hearings(instance, defs, [f"large-{i}" for i in range(40)])
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        large, _ = one_changed_tick(tick.cursor)
        # Dagster's per-partition check state asked once per hearing (+96 here); what is left does not grow
        # with the hearings (+16: the status caches catching up with the 40 hearings' events).
        assert large - small < 40, f"{small} statements with 3 hearings, {large} with 43"


def run_that_made(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    key: str,
    made: list[str],
    planned: list[str] | None = None,
    job: str = "stages",
) -> None:
    """A run of ``job`` for hearing ``key`` that planned ``planned`` (default: ``made``) and materialized ``made``
    with their checks passed, as Materialize in the UI records it: the run (with its planned materializations),
    then under its id the materializations and check evaluations, then its end (failed if it made less than it
    planned)."""
    asset_graph = defs.resolve_asset_graph()
    job_def = defs.resolve_job_def(job)
    run = instance.create_run_for_job(
        job_def,
        asset_selection={dg.AssetKey(a) for a in planned or made},
        tags={**job_def.run_tags, "dagster/partition": key},
        status=dg.DagsterRunStatus.STARTED,
    )

    def report(event_type: DagsterEventType, data: object) -> None:
        instance.report_dagster_event(
            DagsterEvent(event_type_value=event_type.value, event_specific_data=data, job_name=run.job_name),
            run_id=run.run_id,
        )

    for asset in map(dg.AssetKey, made):
        node = asset_graph.get(asset)
        materialization = dg.AssetMaterialization(
            asset, partition=key, tags={"dagster/code_version": node.code_version or ""}
        )
        report(DagsterEventType.ASSET_MATERIALIZATION, StepMaterializationData(materialization))
        stored = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[key]), limit=1
        ).records[0]
        target = AssetCheckEvaluationTargetMaterializationData(
            storage_id=stored.storage_id, run_id=stored.run_id, timestamp=stored.timestamp
        )
        for check_key in node.check_keys:
            check = dg.AssetCheckEvaluation(
                asset_key=asset,
                check_name=check_key.name,
                passed=True,
                partition=key,
                blocking=asset_graph.get(check_key).blocking,
                target_materialization_data=target,
            )
            report(DagsterEventType.ASSET_CHECK_EVALUATION, check)
    stopped = set(planned or made) - set(made)
    report(DagsterEventType.RUN_FAILURE if stopped else DagsterEventType.RUN_SUCCESS, None)
    assert instance.get_run_by_id(run.run_id).status in (
        dg.DagsterRunStatus.FAILURE,
        dg.DagsterRunStatus.SUCCESS,
    )


def test_upstream_ready_answers_as_dagsters_conditions(tmp_path: Path) -> None:
    """UpstreamReady against the Dagster conditions it replaces, on one instance with hearings in every state
    they tell apart (missing upstream, failed check, unchecked upstream, runs started / not started / failed, an
    upstream requested in the same tick): every asset of the graph requests the same hearings either way."""
    resources = hearing_resources(tmp_path)
    with dg.instance_for_test() as instance:
        record_every_state(instance, graph(resources))
        ours = requested(
            dg.evaluate_automation_conditions(defs=graph(resources, conditions=ours_ready), instance=instance)
        )
        theirs = requested(
            dg.evaluate_automation_conditions(
                defs=graph(resources, conditions=dagster_ready), instance=instance
            )
        )
        assert ours == theirs
        # What the states mean, so that the two cannot agree by both being wrong.
        assert ours["vad_chunks"] == sorted(
            ["audio-failed-run", "audio-only", "complete", "failed-run", "running", "vad-failed"]
        )
        # vad_chunks is requested in this tick where it is ready: its failed check no longer blocks transcript
        # (the check runs again in the same run); a run started on transcript keeps it and aligned_segments; a run
        # not started yet on vad_chunks keeps transcript and diarization, not aligned_segments (not a direct upstream).
        requested_with_vad = ["audio-failed-run", "audio-only", "complete", "failed-run", "vad-failed"]
        assert ours["transcript"] == requested_with_vad
        assert ours["diarization"] == sorted([*requested_with_vad, "running"])
        assert ours["aligned_segments"] == sorted([*requested_with_vad, "not-started"])
        assert ours["speaker_names"] == ours["aligned_segments"]  # the library is optional

        # Without the library, and with every upstream required: the unpartitioned, external upstream.
        instance.wipe_assets([dg.AssetKey("voiceprint_library")])

        def everything_required(optional: dg.AssetSelection | None) -> dg.AutomationCondition:
            return UpstreamReady(None)

        def dagster_everything_required(optional: dg.AssetSelection | None) -> dg.AutomationCondition:
            return dagster_ready(None)

        ours = requested(
            dg.evaluate_automation_conditions(
                defs=graph(resources, conditions=everything_required), instance=instance
            )
        )
        theirs = requested(
            dg.evaluate_automation_conditions(
                defs=graph(resources, conditions=dagster_everything_required), instance=instance
            )
        )
        assert ours == theirs
        assert "speaker_names" not in ours and "aligned_segments" in ours


def test_follow_upstream_requests_what_dagsters_conditions_request(tmp_path: Path) -> None:
    """follow_upstream against the same condition made of Dagster's own conditions, tick after tick, each with
    its own cursor on one instance: a re-materialized upstream (of a complete hearing, of one being run, of one
    whose run failed), the tick after, and a model change."""
    resources = hearing_resources(tmp_path)
    with dg.instance_for_test() as instance:
        record_every_state(instance, graph(resources))
        cursors: dict[str, dg.AssetDaemonCursor | None] = {"ours": None, "dagster": None}
        made = {"ours": follow_upstream, "dagster": dagster_follow_upstream}

        def tick(transcript_version: str | None = None) -> dict[str, list[str]]:
            found = {}
            for name, conditions in made.items():
                result = dg.evaluate_automation_conditions(
                    defs=graph(resources, transcript_version, conditions),
                    instance=instance,
                    cursor=cursors[name],
                )
                cursors[name], found[name] = result.cursor, requested(result)
            assert found["ours"] == found["dagster"]
            return found["ours"]

        assert tick() == {}
        for key in ["complete", "running", "failed-run", "not-started"]:
            run_that_made(instance, graph(resources), key, ["raw_audio"])
        # A run that planned vad_chunks and transcript and made vad_chunks only: transcript was there in that
        # run (not followed), diarization was not (followed); a run of the whole-hearing job: not followed. Each
        # is the latest materialization of its asset: Dagster's executed_with_root_target / executed_with_tags
        # look at the run of the asset's latest materialization of any hearing, so they only hold then.
        run_that_made(instance, graph(resources), "vad-failed", ["vad_chunks"], ["vad_chunks", "transcript"])
        run_that_made(instance, graph(resources), "audio-only", ["raw_audio"], job="hearing_pipeline")
        again = tick()
        # The hearing being run keeps its run (transcript onwards in progress): its earlier stages only.
        assert again["vad_chunks"] == ["complete", "failed-run", "running"]
        assert again["transcript"] == ["complete", "failed-run"]
        assert again["diarization"] == ["complete", "failed-run", "running", "vad-failed"]
        assert "audio-only" not in {key for keys in again.values() for key in keys}
        assert tick() == {}  # handled: not asked again
        # A model change: the hearings whose transcript was made before and whose upstream is ready.
        changed = tick("transcript-v2")
        # (vad-failed's vad_chunks was made again above, its check passed).
        assert changed["transcript"] == ["complete", "failed-run", "vad-failed"]
