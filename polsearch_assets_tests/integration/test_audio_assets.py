"""raw_audio and vad_chunks materialized for real: yt-dlp against a local HTTP server, ffmpeg, silero-vad."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import dagster as dg
import pytest
import soundfile as sf
from dagster._core.events import DagsterEventType

from polsearch_assets.backends.vad.segmentation import SegmentationVad
from polsearch_assets.core.artifacts import CATALOG_JSON, RAW_AUDIO_WAV, VAD_CHUNKS_JSON
from polsearch_assets.core.contracts import HEARING_ASSETS
from polsearch_assets.defs.hearing.engines import SpeechDetectorResource
from polsearch_assets.defs.hearing.partitions import hearings_partitions
from polsearch_assets.defs.hearing.registration import register_hearing
from polsearch_assets.defs.hearing.resources import MediaFetcher
from polsearch_assets_tests.fixtures.hearing import assets_for, ingest_audio, materialize
from polsearch_assets_tests.fixtures.media import SAMPLE_RTTM, MediaServer

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test


def events(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, kind: DagsterEventType) -> list:
    return [r.dagster_event for r in instance.all_logs(result.run_id, of_type=kind)]


def failure_message(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> str:
    (failure,) = events(instance, result, DagsterEventType.STEP_FAILURE)
    return failure.step_key + ": " + failure.event_specific_data.error.message


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    (materialization,) = result.asset_materializations_for_node(asset)
    return {k: v.value for k, v in materialization.metadata.items()}


def rttm_turns() -> list[tuple[int, int]]:
    turns = []
    for line in SAMPLE_RTTM.read_text().splitlines():
        fields = line.split()
        start, duration = float(fields[3]), float(fields[4])
        turns.append((round(start * 1000), round((start + duration) * 1000)))
    return turns


def test_sample_hearing_from_a_local_file(instance, resources, media_files) -> None:
    key, result = ingest_audio(instance, resources, str(media_files["sample.wav"]))
    assert result.success
    store = resources["artifact_store"]
    with store.reader(key, RAW_AUDIO_WAV) as wav:
        info = sf.info(str(wav))
    assert (info.samplerate, info.channels, info.subtype) == (16_000, 1, "PCM_16")
    audio_meta = metadata(result, "raw_audio")
    assert audio_meta["duration_s"] == pytest.approx(info.frames / 16_000, abs=0.01)
    assert audio_meta["original_sample_rate"] == 16_000 and audio_meta["source_kind"] == "file"

    chunks = store.read_json(key, VAD_CHUNKS_JSON)
    duration_ms = chunks["duration_ms"]
    assert duration_ms == audio_meta["duration_ms"]
    items = chunks["chunks"]
    assert len(items) == metadata(result, "vad_chunks")["chunk_count"] >= 2
    for chunk in items:
        assert set(chunk) >= {"index", "start_ms", "end_ms"}
        assert 0 <= chunk["start_ms"] < chunk["end_ms"] <= duration_ms
        assert chunk["end_ms"] - chunk["start_ms"] <= 60_000
    # Every scripted utterance lies inside the chunks (VAD found all the speech).
    for start, end in rttm_turns():
        inside = sum(max(0, min(end, c["end_ms"]) - max(start, c["start_ms"])) for c in items)
        assert inside >= 0.9 * (end - start)


def test_smaller_chunks_are_cut_in_pauses_between_utterances(instance, resources, media_files) -> None:
    resources = {
        **resources,
        "vad": SpeechDetectorResource.of(SegmentationVad.from_settings(min_chunk_s=10, max_chunk_s=20)),
    }
    key, result = ingest_audio(instance, resources, str(media_files["sample.wav"]))
    assert result.success
    items = resources["artifact_store"].read_json(key, VAD_CHUNKS_JSON)["chunks"]
    assert len(items) >= 5
    assert all(c["end_ms"] - c["start_ms"] <= 20_000 for c in items)
    for a, b in pairwise(items):
        assert a["end_ms"] <= b["start_ms"]
        # The cut falls in a pause: no scripted utterance is cut by more than VAD's padding.
        for start, end in rttm_turns():
            assert min(end, b["start_ms"]) - max(start, a["end_ms"]) < 250


@pytest.mark.parametrize("name", ["sample.mp3", "sample.mp4"])
def test_direct_media_urls_through_yt_dlp(instance, resources, media_server: MediaServer, name: str) -> None:
    key, result = ingest_audio(instance, resources, media_server.url(name))
    assert result.success, failure_message(instance, result)
    assert key.startswith("url-")
    meta = metadata(result, "raw_audio")
    assert meta["source_kind"] == "url"
    assert meta["original_channels"] == (2 if name == "sample.mp3" else 1)
    assert meta["duration_s"] == pytest.approx(98.5, abs=1.0)
    assert metadata(result, "vad_chunks")["chunk_count"] >= 2


def test_transient_503s_are_retried_then_succeed(instance, resources, media_server: MediaServer) -> None:
    media_server.fail_first["flaky-sample.wav"] = 2
    _, result = ingest_audio(instance, resources, media_server.url("flaky-sample.wav"))
    assert result.success
    assert len(events(instance, result, DagsterEventType.STEP_UP_FOR_RETRY)) == 2
    assert media_server.requests["flaky-sample.wav"] >= 3


def test_404_fails_at_once_without_retry_or_artifact(instance, resources, media_server: MediaServer) -> None:
    key, result = ingest_audio(instance, resources, media_server.url("gone.wav"))
    assert not result.success
    message = failure_message(instance, result)
    assert f"hearing {key}" in message and "HTTP 404" in message
    assert events(instance, result, DagsterEventType.STEP_UP_FOR_RETRY) == []
    assert media_server.requests["gone.wav"] == 1
    assert not resources["artifact_store"].exists(key, RAW_AUDIO_WAV)


@pytest.mark.parametrize(
    ("name", "cause"),
    [("notaudio.mp4", "not a media file ffmpeg can read"), ("empty.wav", "the source sent an empty file")],
)
def test_bad_files_over_http_fail_permanently(
    instance, resources, media_server, name: str, cause: str
) -> None:
    key, result = ingest_audio(instance, resources, media_server.url(name))
    assert not result.success
    message = failure_message(instance, result)
    assert message.startswith("raw_audio: ") and f"hearing {key}" in message and cause in message
    assert events(instance, result, DagsterEventType.STEP_UP_FOR_RETRY) == []
    assert not resources["artifact_store"].exists(key, RAW_AUDIO_WAV)


@pytest.mark.parametrize(
    ("name", "cause"),
    [("notaudio.mp4", "not a media file ffmpeg can read"), ("empty.wav", "file is empty")],
)
def test_bad_local_files_fail_permanently(instance, resources, media_files, name: str, cause: str) -> None:
    key, result = ingest_audio(instance, resources, str(media_files[name]))
    assert not result.success
    message = failure_message(instance, result)
    assert f"hearing {key}" in message and cause in message
    assert not resources["artifact_store"].exists(key, RAW_AUDIO_WAV)


def test_a_registered_file_that_disappeared(instance, resources, tmp_path: Path, media_files) -> None:
    moved = tmp_path / "hearing.wav"
    moved.write_bytes(media_files["sample.wav"].read_bytes())
    key = register_hearing(instance, resources["artifact_store"], str(moved)).entry.key
    moved.unlink()
    result = materialize(instance, resources, key, "raw_audio", raise_on_error=False)
    assert not result.success
    assert f"hearing {key}: file not found" in failure_message(instance, result)
    assert events(instance, result, DagsterEventType.STEP_UP_FOR_RETRY) == []


def test_a_key_added_in_the_ui_fails_at_once_and_leaves_no_failed_asset(instance, resources) -> None:
    """The Materialize dialog's "Add a partition" makes a key with no catalog entry: the whole graph is asked
    for, raw_audio fails first with how hearings are added, nothing else runs, and the key is removed, so no
    asset of the graph shows the hearing failed."""
    key = "yt-AAAAAAAAAAA"
    instance.add_dynamic_partitions("hearings", [key])
    result = dg.materialize(
        assets_for(resources), partition_key=key, instance=instance, resources=resources, raise_on_error=False
    )
    assert not result.success
    assert {e.step_key for e in events(instance, result, DagsterEventType.STEP_START)} == {"raw_audio"}
    assert events(instance, result, DagsterEventType.STEP_UP_FOR_RETRY) == []
    for asset in HEARING_ASSETS:
        statuses = instance.get_status_by_partition(dg.AssetKey(asset), [key], hearings_partitions) or {}
        assert statuses.get(key) != dg.AssetPartitionStatus.FAILED, asset
    assert key not in instance.get_dynamic_partitions("hearings")
    message = failure_message(instance, result)
    assert f"hearing {key}: not registered, so it has no source to fetch; the key was removed" in message
    assert "polsearch ingest SOURCE, polsearch submit URL" in message


def test_a_hearing_that_lost_its_catalog_entry_keeps_its_key(instance, resources, media_files) -> None:
    """Only a key that never had audio is removed; a hearing with history stays, failed, for its owner to fix."""
    key, ingested = ingest_audio(instance, resources, str(media_files["sample.wav"]))
    assert ingested.success
    (Path(resources["artifact_store"].root) / key / CATALOG_JSON).unlink()
    result = materialize(instance, resources, key, "raw_audio", raise_on_error=False)
    assert f"hearing {key}: not registered" in failure_message(instance, result)
    assert "the key was removed" not in failure_message(instance, result)
    assert key in instance.get_dynamic_partitions("hearings")


@pytest.mark.parametrize(
    ("fetcher", "cause"),
    [
        (MediaFetcher.from_settings(max_duration_s=60), "1 min 39 s long, over the maximum of 1 min 00 s"),
        (MediaFetcher.from_settings(min_duration_s=120), "1 min 39 s long, under the minimum of 2 min 00 s"),
    ],
)
def test_duration_out_of_range_fails_clearly(instance, resources, media_files, fetcher, cause: str) -> None:
    key, result = ingest_audio(
        instance, {**resources, "media_fetcher": fetcher}, str(media_files["sample.mp3"])
    )
    assert not result.success
    message = failure_message(instance, result)
    assert f"hearing {key}: recording is" in message and cause in message
    assert events(instance, result, DagsterEventType.STEP_UP_FOR_RETRY) == []


def test_silent_audio_gives_zero_chunks_and_succeeds(instance, resources, media_files) -> None:
    key, result = ingest_audio(instance, resources, str(media_files["silent.wav"]))
    assert result.success
    meta = metadata(result, "vad_chunks")
    assert meta["chunk_count"] == 0 and meta["speech_found"] is False
    assert resources["artifact_store"].read_json(key, VAD_CHUNKS_JSON)["chunks"] == []


def test_rematerializing_replaces_the_artifacts(instance, resources, media_files) -> None:
    key, first = ingest_audio(instance, resources, str(media_files["sample.wav"]))
    before = resources["artifact_store"].read_json(key, VAD_CHUNKS_JSON)
    again, second = ingest_audio(instance, resources, str(media_files["sample.wav"]))
    assert again == key and first.success and second.success
    assert resources["artifact_store"].read_json(key, VAD_CHUNKS_JSON) == before
    assert instance.get_dynamic_partitions("hearings") == [key]
