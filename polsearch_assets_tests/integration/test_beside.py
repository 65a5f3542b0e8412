"""With POLSEARCH_TRANSCRIPT_BESIDE_DIARIZATION an in-process run transcribes beside its diarization, with the
real models, and only when it transcribes; without it, one step at a time."""

from __future__ import annotations

import dagster as dg
import pytest

from polsearch_assets.core.artifacts import read_transcript
from polsearch_assets.defs.hearing.checks import HEARING_CHECKS
from polsearch_assets.defs.hearing.registration import register_hearing
from polsearch_assets_tests.fixtures.hearing import assets_for, run_hearing

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    (materialization,) = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in materialization.metadata.items()}


def _messages(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, step: str) -> list[str]:
    return [r.user_message for r in instance.all_logs(result.run_id) if r.step_key == step]


def _materialize(instance, resources, key: str, *assets: str) -> dg.ExecuteInProcessResult:
    selection = dg.AssetSelection.assets(*assets) if assets else None
    return dg.materialize(
        [*assets_for(resources, transcript_beside_diarization=True), *HEARING_CHECKS],
        selection=selection,
        partition_key=key,
        instance=instance,
        resources=resources,
    )


def test_a_whole_hearing_run_transcribes_beside_its_diarization(instance, resources, media_files) -> None:
    key = register_hearing(instance, resources["artifact_store"], str(media_files["sample.wav"])).entry.key
    result = _materialize(instance, resources, key)
    assert result.success
    assert any(
        "transcript started beside diarization" in m for m in _messages(instance, result, "diarization")
    )
    assert any(
        "transcript taken from beside diarization" in m for m in _messages(instance, result, "transcript")
    )
    assert _metadata(result, "diarization")["transcript_started_beside"] is True
    transcript = _metadata(result, "transcript")
    assert transcript["started_beside_diarization"] is True
    assert transcript["work_seconds"] > 0
    assert (
        transcript["words"]
        == sum(len(s.words) for s in read_transcript(resources["artifact_store"], key))
        > 20
    )
    assert _metadata(result, "aligned_segments")["words"] == transcript["words"]

    # A run of diarization alone starts no transcript work and leaves the transcript as it was.
    again = _materialize(instance, resources, key, "diarization")
    assert _metadata(again, "diarization")["transcript_started_beside"] is False
    assert not again.asset_materializations_for_node("transcript")
    assert not any("beside" in m for m in _messages(instance, again, "diarization"))


def test_by_default_a_run_takes_one_step_at_a_time(instance, resources, media_files) -> None:
    _, result = run_hearing(instance, resources, media_files["sample.wav"])
    assert result.success
    assert "transcript_started_beside" not in _metadata(result, "diarization")
    assert "started_beside_diarization" not in _metadata(result, "transcript")
    assert not any("beside" in (r.user_message or "") for r in instance.all_logs(result.run_id))
