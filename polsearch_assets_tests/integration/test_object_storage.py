"""Artifacts and the index on a real S3-compatible server (moto's standalone server on 127.0.0.1)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import dagster as dg
import pytest

from polsearch_assets.config import Settings
from polsearch_assets.defs.platform.index import LanceIndex
from polsearch_assets.defs.platform.object_storage import MULTIPART_CHUNK_BYTES, S3ArtifactStore, split_s3_uri
from polsearch_assets.defs.platform.storage import configured_artifact_store, configured_lance_index
from polsearch_assets_tests.fixtures.hearing import hearing_resources, run_hearing
from polsearch_assets_tests.fixtures.media import SAMPLE_WAV
from polsearch_assets_tests.fixtures.s3_server import (
    ACCESS_KEY_ID,
    REGION,
    SECRET_ACCESS_KEY,
    S3Server,
    s3_credentials,
    s3_server,
)

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test

__all__ = ["s3_credentials", "s3_server"]  # fixtures


@pytest.fixture
def s3_store(s3_server: S3Server, s3_credentials: None) -> S3ArtifactStore:
    return S3ArtifactStore.from_settings(
        bucket=s3_server.new_bucket(),
        prefix="polsearch/artifacts",
        endpoint_url=s3_server.endpoint,
        region=REGION,
    )


def test_write_read_replace_list_delete(s3_store: S3ArtifactStore, s3_server: S3Server) -> None:
    s3_store.write_json("h1", "data.json", {"a": 1})
    s3_store.write_json("h1", "data.json", {"a": 2})
    assert s3_store.read_json("h1", "data.json") == {"a": 2}
    assert s3_store.exists("h1", "data.json") and not s3_store.exists("h2", "data.json")
    assert s3_store.size("h1", "data.json") == len(b'{\n "a": 2\n}')
    assert s3_store.uri("h1", "data.json") == f"s3://{s3_store.bucket}/polsearch/artifacts/h1/data.json"
    s3_store.write_bytes("h1", "chunks/0001.wav", b"RIFF")
    assert [(a.name, a.size_bytes) for a in s3_store.list_artifacts("h1")] == [
        ("chunks/0001.wav", 4),
        ("data.json", 11),
    ]
    assert s3_store.list_artifacts("h2") == []
    s3_store.delete("h1", "chunks/0001.wav")
    s3_store.delete("h1", "never-written.json")  # absent: not an error
    assert [a.name for a in s3_store.list_artifacts("h1")] == ["data.json"]
    with pytest.raises(FileNotFoundError, match=r"hearing 'h1' has no artifact 'gone\.json'"):
        s3_store.read_json("h1", "gone.json")
    with pytest.raises(FileNotFoundError):
        s3_store.size("h1", "gone.json")
    with pytest.raises(ValueError):
        s3_store.write_bytes("../h1", "x.json", b"")


def test_a_failed_write_keeps_the_previous_version(s3_store: S3ArtifactStore) -> None:
    s3_store.write_bytes("h1", "audio.wav", b"good")
    with pytest.raises(RuntimeError, match="crash"), s3_store.writer("h1", "audio.wav") as path:
        path.write_bytes(b"half of a replacement")
        raise RuntimeError("crash")
    with s3_store.reader("h1", "audio.wav") as path:
        assert path.read_bytes() == b"good"
    with pytest.raises(RuntimeError, match="was not written"), s3_store.writer("h1", "empty.json"):
        pass
    assert not s3_store.exists("h1", "empty.json")


def test_large_audio_moves_in_parts(s3_store: S3ArtifactStore, s3_server: S3Server, tmp_path: Path) -> None:
    payload = os.urandom(2 * MULTIPART_CHUNK_BYTES + 12345)
    with s3_store.writer("h1", "raw_audio.wav") as path:
        path.write_bytes(payload)
    head = s3_server.client().head_object(Bucket=s3_store.bucket, Key="polsearch/artifacts/h1/raw_audio.wav")
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload of 3 parts, streamed from disk
    with s3_store.reader("h1", "raw_audio.wav") as path:
        assert path.stat().st_size == len(payload) and path.read_bytes() == payload


def test_configured_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "POLSEARCH_ARTIFACT_ROOT": "s3://spaces-bucket/prod/artifacts",
            "POLSEARCH_LANCEDB_URI": "s3://spaces-bucket/prod/lancedb",
            "POLSEARCH_S3_ENDPOINT_URL": "https://nyc3.digitaloceanspaces.com",
            "POLSEARCH_S3_REGION": "nyc3",
        }
    )
    store = configured_artifact_store(settings)
    assert isinstance(store, S3ArtifactStore)
    assert (store.bucket, store.prefix, store.endpoint_url, store.region) == (
        "spaces-bucket",
        "prod/artifacts",
        "https://nyc3.digitaloceanspaces.com",
        "nyc3",
    )
    index = configured_lance_index(settings)
    assert index.uri == "s3://spaces-bucket/prod/lancedb" and index.region == "nyc3"
    assert split_s3_uri("s3://b") == ("b", "")
    with pytest.raises(ValueError, match="not an s3:// URI"):
        split_s3_uri("https://b/x")


@pytest.mark.slow
def test_a_hearing_end_to_end_on_the_bucket(
    s3_store: S3ArtifactStore,
    s3_server: S3Server,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO)
    lance = LanceIndex.from_settings(
        uri=f"s3://{s3_store.bucket}/polsearch/lancedb", endpoint_url=s3_server.endpoint, region=REGION
    )
    resources = hearing_resources(tmp_path) | {"artifact_store": s3_store, "lance_index": lance}
    with dg.instance_for_test() as instance:
        key, result = run_hearing(instance, resources, SAMPLE_WAV)
        assert result.success
        records = instance.all_logs(result.run_id)
        run = instance.get_run_by_id(result.run_id)

    stored = {a.name for a in s3_store.list_artifacts(key)}
    assert {
        "hearing.json",
        "raw_audio.wav",
        "vad_chunks.json",
        "transcript.json",
        "diarization.json",
    } <= stored
    assert {"aligned_segments.json", "word_archive.parquet"} <= stored
    objects = s3_server.client().list_objects_v2(Bucket=s3_store.bucket, Prefix="polsearch/lancedb/")
    assert objects["KeyCount"] > 0 and not (tmp_path / "lancedb").exists()
    segments = s3_store.read_json(key, "aligned_segments.json")["segments"]
    assert len(lance.open().rows(key)) == len(segments) > 0

    # No credential anywhere: event log (metadata, messages), run tags and config, Python logs, output.
    seen = "\n".join(
        [
            *(str(r.user_message) + repr(r.dagster_event) for r in records),
            repr(run.tags),
            repr(run.run_config),
            caplog.text,
            *capfd.readouterr(),
        ]
    )
    for secret in (SECRET_ACCESS_KEY, ACCESS_KEY_ID):
        assert secret not in seen
    assert f"s3://{s3_store.bucket}/polsearch/artifacts/{key}/raw_audio.wav" in seen  # the URI is recorded
