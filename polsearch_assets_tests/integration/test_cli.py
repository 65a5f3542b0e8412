"""The polsearch CLI as a user runs it: a real subprocess against a DAGSTER_HOME instance."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.tags import PARTITION_NAME_TAG

from polsearch_assets_tests.fixtures.media import REPO, SAMPLE_WAV
from polsearch_assets_tests.fixtures.processes import polsearch

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test


def test_ingest_then_list(cli_env: dict[str, str]) -> None:
    source = os.path.relpath(SAMPLE_WAV, REPO)
    first = polsearch(cli_env, "ingest", source, "--title", "Bridge safety", "--committee", "Transportation")
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip().splitlines()[-1]
    assert key.startswith("file-")
    for line in (
        "[raw_audio] started",
        "[raw_audio] materialized",
        "[hearing_index] materialized",
        "SUCCESS",
    ):
        assert line in first.stdout

    second = polsearch(cli_env, "ingest", str(SAMPLE_WAV))
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().splitlines()[-1] == key
    assert "already registered" in second.stdout

    listing = polsearch(cli_env, "hearings", "--json")
    assert listing.returncode == 0, listing.stderr
    (hearing,) = json.loads(listing.stdout)
    assert hearing["key"] == key
    assert hearing["source"] == source  # as first given
    assert hearing["title"] == "Bridge safety" and hearing["committee"] == "Transportation"
    assert set(hearing["assets"]) == {
        "raw_audio", "vad_chunks", "transcript", "diarization", "aligned_segments", "speaker_names",
        "hearing_index", "word_archive",
    }  # fmt: skip
    assert set(hearing["assets"].values()) == {"materialized"}

    table = polsearch(cli_env, "hearings")
    assert key in table.stdout and "materialized" in table.stdout

    # The runs live in the DAGSTER_HOME instance, so the UI shows them.
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(cli_env["DAGSTER_HOME"])) as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name="hearing_pipeline", tags={PARTITION_NAME_TAG: key}))
        assert len(runs) == 2 and all(run.is_success for run in runs)
        assert instance.get_dynamic_partitions("hearings") == [key]


def test_ingest_failures_are_clear(cli_env: dict[str, str], tmp_path: Path) -> None:
    missing = polsearch(cli_env, "ingest", str(tmp_path / "nope.wav"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("minutes of the meeting\n")
    failed = polsearch(cli_env, "ingest", str(not_audio))
    assert failed.returncode == 2  # a bad source, as the README's exit codes say
    assert "[raw_audio] FAILED" in failed.stdout and "not a media file ffmpeg can read" in failed.stdout
    listing = json.loads(polsearch(cli_env, "hearings", "--json").stdout)
    assert [h["assets"]["raw_audio"] for h in listing] == ["failed"]
    assert [h["assets"]["hearing_index"] for h in listing] == [
        "failed"
    ]  # planned in the failed run, as the UI shows it


def test_search_and_export(cli_env: dict[str, str]) -> None:
    key = polsearch(cli_env, "ingest", str(SAMPLE_WAV)).stdout.strip().splitlines()[-1]
    found = polsearch(cli_env, "search", "sensors to monitor corrosion", "--json", "--limit", "3")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    assert set(hits[0]) >= {"hearing", "title", "speaker", "start_ms", "end_ms", "text", "url", "score"}
    assert "corrosion" in hits[0]["text"] and hits[0]["hearing"] == key and "#t=" in hits[0]["url"]
    nothing = polsearch(cli_env, "search", "xqzvbnm plorf", "--json")
    assert nothing.returncode == 0 and json.loads(nothing.stdout) == []
    unknown = polsearch(cli_env, "search", "bridges", "--hearing", "yt-AAAAAAAAAAA")
    assert unknown.returncode == 2 and "has no rows in the index" in unknown.stderr
    rttm = polsearch(cli_env, "export", key, "--format", "rttm")
    assert rttm.returncode == 0 and rttm.stdout.splitlines()[0].startswith(f"SPEAKER {key} 1 ")
    srt = polsearch(cli_env, "export", key, "--format", "srt")
    assert srt.stdout.startswith("1\n00:00:0") and "SPEAKER_0: The committee will come to order" in srt.stdout
    missing = polsearch(cli_env, "export", "yt-AAAAAAAAAAA")
    assert missing.returncode == 2 and "fully ingested" in missing.stderr
