"""An in-process run transcribes beside its diarization, with the real models, and only when it transcribes."""

from __future__ import annotations

import dagster as dg
import pytest

from polsearch_assets.core.artifacts import read_transcript
from polsearch_assets_tests.fixtures.hearing import materialize, run_hearing

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    (materialization,) = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in materialization.metadata.items()}


def _messages(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, step: str) -> list[str]:
    return [r.user_message for r in instance.all_logs(result.run_id) if r.step_key == step]


def test_a_whole_hearing_run_transcribes_beside_its_diarization(instance, resources, media_files) -> None:
    key, result = run_hearing(instance, resources, media_files["sample.wav"])
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
    again = materialize(instance, resources, key, "diarization")
    assert _metadata(again, "diarization")["transcript_started_beside"] is False
    assert not again.asset_materializations_for_node("transcript")
    assert not any("beside" in m for m in _messages(instance, again, "diarization"))
