from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from polsearch_assets.core.artifacts import (
    SPEECH_FRAMES,
    VAD_CHUNKS_JSON,
    read_speech_frames,
    read_vad_chunks,
    write_vad_chunks,
)
from polsearch_assets.core.audio.speech_frames import FrameScores
from polsearch_assets.core.catalog import HearingCatalog, upload_date_to_iso
from polsearch_assets.core.contracts import VadChunks
from polsearch_assets.core.keys import InvalidHearingKey
from polsearch_assets.core.sources.registry import resolve_source
from polsearch_assets.defs.platform.artifacts import LocalArtifactStore


def test_write_read_replace(store: LocalArtifactStore) -> None:
    store.write_json("h1", "data.json", {"a": 1})
    assert store.read_json("h1", "data.json") == {"a": 1}
    store.write_json("h1", "data.json", {"a": 2})
    assert store.read_json("h1", "data.json") == {"a": 2}
    assert store.exists("h1", "data.json") and not store.exists("h2", "data.json")
    assert store.uri("h1", "data.json").startswith("file://")
    assert store.size("h1", "data.json") == len(b'{\n "a": 2\n}')


def test_a_failed_write_leaves_nothing_and_keeps_the_previous_version(
    store: LocalArtifactStore, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError, match="crash"), store.writer("h1", "audio.wav") as path:
        path.write_bytes(b"half a file")
        raise RuntimeError("crash")
    assert not store.exists("h1", "audio.wav")
    store.write_bytes("h1", "audio.wav", b"good")
    with pytest.raises(RuntimeError), store.writer("h1", "audio.wav") as path:
        path.write_bytes(b"half of a replacement")
        raise RuntimeError("crash again")
    with store.reader("h1", "audio.wav") as path:
        assert path.read_bytes() == b"good"
    hearing_dir = tmp_path / "artifacts" / "h1"
    assert sorted(p.name for p in hearing_dir.iterdir()) == ["audio.wav"]  # no temp files left


def test_a_writer_that_writes_nothing_fails(store: LocalArtifactStore) -> None:
    with pytest.raises(RuntimeError, match="was not written"), store.writer("h1", "x.json"):
        pass


@pytest.mark.parametrize("key", ["../x", "", "a/b", "x" * 65])
def test_keys_cannot_escape_the_root(store: LocalArtifactStore, key: str) -> None:
    with pytest.raises(InvalidHearingKey):
        store.write_bytes(key, "x.json", b"{}")


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/../../b", "", ".hidden"])
def test_artifact_names_are_plain(store: LocalArtifactStore, name: str) -> None:
    with pytest.raises(ValueError, match="invalid artifact name"):
        store.write_bytes("h1", name, b"")


def test_missing_artifact_is_a_clear_error(store: LocalArtifactStore) -> None:
    with (
        pytest.raises(FileNotFoundError, match=r"hearing 'h1' has no artifact 'raw_audio\.wav'"),
        store.reader("h1", "raw_audio.wav"),
    ):
        pass


def test_registering_twice_keeps_one_entry_and_only_adds_facts(store: LocalArtifactStore) -> None:
    catalog = HearingCatalog(store)
    resolved = resolve_source("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    entry, created = catalog.register(resolved, committee="Judiciary")
    assert created and entry.key == "yt-dQw4w9WgXcQ" and entry.title is None
    again, created_again = catalog.register(resolved, title="Oversight hearing", committee="Other")
    assert not created_again
    assert (
        again.title == "Oversight hearing" and again.committee == "Judiciary"
    )  # given facts are never overwritten
    assert again.registered_at == entry.registered_at
    assert catalog.get("yt-dQw4w9WgXcQ") == again
    assert catalog.get("yt-unknown") is None


def test_dates() -> None:
    assert upload_date_to_iso("20260314") == "2026-03-14"
    assert upload_date_to_iso("2026-03-14") == "2026-03-14"
    assert upload_date_to_iso(None) is None
    with pytest.raises(ValueError, match="not a date"):
        upload_date_to_iso("March 14")


def test_register_hearings_job_registers_all_or_none(
    instance: dg.DagsterInstance, store: LocalArtifactStore, tmp_path: Path
) -> None:
    from polsearch_assets.defs.hearing.jobs import register_hearings

    def run(*sources: str) -> dg.ExecuteInProcessResult:
        hearings = [{"source": s, "committee": "Rules"} for s in sources]
        return register_hearings.execute_in_process(
            run_config={"ops": {"register_sources": {"config": {"hearings": hearings}}}},
            instance=instance,
            resources={"artifact_store": store},
            raise_on_error=False,
        )

    good = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    failed = run(good, str(tmp_path / "missing.wav"))
    assert not failed.success
    (failure,) = [e for e in failed.all_events if e.is_step_failure]
    assert "1 source(s) cannot be hearings" in failure.step_failure_data.error.message
    assert instance.get_dynamic_partitions("hearings") == []  # checked before anything is written

    result = run(good, "https://media.example.org/h.mp3", good)
    assert result.success and result.output_for_node("register_sources")[0] == "yt-dQw4w9WgXcQ"
    keys = instance.get_dynamic_partitions("hearings")
    assert sorted(keys) == sorted({resolve_source(s).key for s in (good, "https://media.example.org/h.mp3")})
    assert HearingCatalog(store).get("yt-dQw4w9WgXcQ").committee == "Rules"


def _scores(frames: int = 1000) -> FrameScores:
    rng = np.random.default_rng(0)
    return FrameScores(
        speech=rng.random(frames, dtype=np.float32),
        count=2 * rng.random(frames, dtype=np.float32),
        num_samples=270_991,
    )


def test_vad_chunks_keep_the_segmentation_scores_for_the_diarizer(store: LocalArtifactStore) -> None:
    vad, scores = VadChunks(duration_ms=16_937, model="seg:on0.5", chunks=()), _scores()
    write_vad_chunks(store, "h", vad, scores, "seg:step5")
    kept = read_speech_frames(store, "h", "seg:step5")
    assert kept is not None and kept.num_samples == scores.num_samples
    assert np.array_equal(kept.speech, scores.speech) and np.array_equal(
        kept.count, scores.count
    )  # bit for bit
    assert read_vad_chunks(store, "h") == vad
    assert (
        read_speech_frames(store, "h", "seg:step2.5") is None
    )  # another step: the diarizer computes its own


def test_speech_frames_not_written_with_the_document_are_never_used(store: LocalArtifactStore) -> None:
    vad = VadChunks(duration_ms=16_937, model="seg:on0.5", chunks=())
    write_vad_chunks(store, "h", vad, _scores(), "seg:step5")
    store.write_bytes("h", SPEECH_FRAMES, _scores(999).to_npz())  # a later run failed before its document
    assert read_speech_frames(store, "h", "seg:step5") is None
    write_vad_chunks(store, "h", vad)  # a VAD without scores (silero) removes the earlier ones
    assert not store.exists("h", SPEECH_FRAMES) and "frames" not in store.read_json("h", VAD_CHUNKS_JSON)
    assert read_speech_frames(store, "h", "seg:step5") is None
