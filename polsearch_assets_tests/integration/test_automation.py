"""Declarative automation on real materializations: exactly the affected hearings' downstream assets are requested."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from dagster._core.instance.ref import InstanceRef

from polsearch_assets.defs.hearing.automation import hearing_automation
from polsearch_assets.defs.hearing.checks import HEARING_CHECKS, raw_audio_contract
from polsearch_assets.defs.hearing.jobs import hearing_pipeline
from polsearch_assets.defs.hearing.registration import register_hearing
from polsearch_assets_tests.fixtures.archive import record_archive_hearings
from polsearch_assets_tests.fixtures.hearing import assets_for, hearing_resources, run_hearing
from polsearch_assets_tests.fixtures.media import REPO, silent_wav

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test

DOWNSTREAM = [
    "vad_chunks", "transcript", "diarization", "aligned_segments", "speaker_names", "hearing_index", "word_archive"
]  # fmt: skip
AFTER_TRANSCRIPT = ["transcript", "aligned_segments", "speaker_names", "hearing_index", "word_archive"]


def graph(resources: dict[str, object], transcript_version: str | None = None) -> dg.Definitions:
    assets = assets_for(resources)
    if (
        transcript_version
    ):  # what a new ASR model does to the code location: transcript's code_version changes
        assets = [
            dg.map_asset_specs(lambda spec: spec.replace_attributes(code_version=transcript_version), [a])[0]
            if a.key == dg.AssetKey("transcript")
            else a
            for a in assets_for(resources)
        ]
    return dg.Definitions(assets=assets, asset_checks=HEARING_CHECKS, resources=resources)


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
