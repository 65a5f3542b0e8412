"""Audio retention on real hearings: only old intermediate audio of indexed hearings goes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.events import DagsterEventType

from polsearch_assets.core.artifacts import RAW_AUDIO_WAV, ArtifactInfo
from polsearch_assets.core.retention import artifacts_to_prune
from polsearch_assets.defs.hearing.audio import raw_wav
from polsearch_assets.defs.hearing.registration import register_hearing
from polsearch_assets.defs.maintenance.retention import audio_retention
from polsearch_assets_tests.fixtures.hearing import assets_for, hearing_resources, materialize, run_hearing
from polsearch_assets_tests.fixtures.media import silent_wav

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test

DAY = 86_400
KEPT = {"hearing.json", "raw_audio.json", "vad_chunks.json", "speech_frames.npz", "transcript.json", "diarization.json",
        "aligned_segments.json", "speaker_names.json", "word_archive.parquet"}  # fmt: skip


def age(path: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def run_retention(instance, store, **config: object) -> dg.ExecuteInProcessResult:
    return audio_retention.execute_in_process(
        instance=instance,
        resources={"artifact_store": store},
        run_config={"ops": {"prune_intermediate_audio": {"config": {"older_than_days": 30, **config}}}},
    )


def test_retention_deletes_only_what_it_should(tmp_path: Path) -> None:
    resources = hearing_resources(tmp_path)
    store = resources["artifact_store"]
    root = Path(store.root)
    with dg.instance_for_test() as instance:
        old, result = run_hearing(instance, resources, silent_wav(tmp_path / "old.wav", 3))
        assert result.success
        recent, result = run_hearing(instance, resources, silent_wav(tmp_path / "recent.wav", 4))
        assert result.success
        unindexed = register_hearing(
            instance, store, str(silent_wav(tmp_path / "unindexed.wav", 5))
        ).entry.key
        assert materialize(instance, resources, unindexed, "raw_audio").success
        for key in (old, unindexed):
            for path in (root / key).rglob("*"):
                age(path, 40)
        age(root / recent / RAW_AUDIO_WAV, 10)
        wav_bytes = (root / old / RAW_AUDIO_WAV).stat().st_size

        dry = run_retention(instance, store, dry_run=True)
        assert dry.output_for_node("prune_intermediate_audio") == wav_bytes
        assert (root / old / RAW_AUDIO_WAV).exists()

        result = run_retention(instance, store)
        assert result.output_for_node("prune_intermediate_audio") == wav_bytes
        assert {a.name for a in store.list_artifacts(old)} == KEPT  # the results stay
        assert (root / recent / RAW_AUDIO_WAV).exists() and (root / unindexed / RAW_AUDIO_WAV).exists()
        (observation,) = [
            r.asset_observation
            for r in instance.all_logs(result.run_id, of_type=DagsterEventType.ASSET_OBSERVATION)
        ]
        assert observation.partition == old and observation.metadata["freed_bytes"].value == wav_bytes
        assert run_retention(instance, store).output_for_node("prune_intermediate_audio") == 0  # nothing left

        # A model change after pruning: the stage fails at once and says how to recover.
        again = dg.materialize(
            assets_for(resources),
            partition_key=old,
            instance=instance,
            resources=resources,
            selection=dg.AssetSelection.assets("vad_chunks"),
            raise_on_error=False,
        )
        (failure,) = [
            r.dagster_event.event_specific_data.error.message
            for r in instance.all_logs(again.run_id, of_type=DagsterEventType.STEP_FAILURE)
        ]
        assert f"hearing {old}: raw_audio.wav is missing" in failure and "re-materialize raw_audio" in failure
        assert instance.all_logs(again.run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY) == []


def test_only_a_missing_wav_is_reported_as_pruned_audio(store) -> None:
    """A FileNotFoundError from the work done with the WAV (once: NeMo losing its temporary working
    directory while a model loaded) is that fault, not "raw_audio.wav is missing"."""
    with pytest.raises(dg.Failure, match=r"hearing gone: raw_audio\.wav is missing"), raw_wav(store, "gone"):
        pass
    store.write_bytes("here", RAW_AUDIO_WAV, b"RIFF")
    with pytest.raises(FileNotFoundError, match="/tmp/tmpdeleted") as raised, raw_wav(store, "here") as path:
        assert path.read_bytes() == b"RIFF"
        raise FileNotFoundError(2, "No such file or directory", "/tmp/tmpdeleted")
    assert not isinstance(raised.value, dg.Failure)


def test_what_counts_as_intermediate_audio(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    names = ["raw_audio.wav", "transcript.json", "raw_audio.json", "word_archive.parquet", "diarization.json"]
    artifacts = [ArtifactInfo(n, 10, now - timedelta(days=40)) for n in names] + [
        ArtifactInfo("raw_audio.wav", 10, now)
    ]
    assert [a.name for a in artifacts_to_prune(artifacts, now - timedelta(days=30))] == names[:1]
