"""Faults while a hearing runs, with real processes: bounded and interrupted downloads, dropped connections,
``polsearch ingest`` terminated or killed by PID, two ingests of one hearing at once.

Each test reproduces a fault that once broke (issue "Reliability under faults"): a dropped connection was
not retried, an endless stream downloaded without bound, SIGTERM was retried as a transient error, a killed
ingest left its run STARTED and its partial download on disk, two ingests of a hearing ran side by side.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from polsearch_assets.core.artifacts import RAW_AUDIO_WAV
from polsearch_assets.core.keys import resolve_source
from polsearch_assets.defs.hearing.resources import MediaFetcher
from polsearch_assets_tests.fixtures.hearing import ingest_audio
from polsearch_assets_tests.fixtures.media import SAMPLE_WAV, MediaServer
from polsearch_assets_tests.fixtures.processes import BIN, REPO, polsearch

pytestmark = pytest.mark.slow  # real servers and processes


def _retries(instance: dg.DagsterInstance, run_id: str) -> int:
    return len(instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY))


def _failure(instance: dg.DagsterInstance, run_id: str) -> str:
    (record,) = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    error = record.dagster_event.event_specific_data.error
    return str(error.cause.message if error.cause else error.message)


def test_a_connection_dropped_midway_is_retried(instance, resources, media_server: MediaServer) -> None:
    _, result = ingest_audio(instance, resources, media_server.url("cut-sample.wav"))
    assert not result.success
    assert _retries(instance, result.run_id) == 3  # transient: the whole backoff, then the cause
    assert "the connection dropped" in _failure(instance, result.run_id)
    assert media_server.requests["cut-sample.wav"] == 2 * 4  # metadata + download, per attempt


def test_an_endless_stream_stops_at_the_download_ceiling(
    instance, resources, media_server: MediaServer
) -> None:
    resources["media_fetcher"] = MediaFetcher(max_download_mb=5.0, socket_timeout_s=5.0)
    started = time.monotonic()
    key, result = ingest_audio(instance, resources, media_server.url("endless-sample.wav"))
    assert not result.success and time.monotonic() - started < 60
    assert "the download passed 5 MB" in _failure(instance, result.run_id)
    assert _retries(instance, result.run_id) == 0  # permanent: no second endless download
    assert not resources["artifact_store"].exists(key, RAW_AUDIO_WAV)
    assert not list(Path(tempfile.gettempdir()).glob(f"polsearch-fetch-{os.getpid()}-*"))


def _start_ingest(env: dict[str, str], source: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [str(BIN / "polsearch"), "ingest", source],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # the download is under way once raw_audio has started and written bytes
        if "[raw_audio] started" in line:
            break
    deadline = time.monotonic() + 60
    while not _partial_downloads(process.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _partial_downloads(process.pid), "the download never started"
    return process


def _partial_downloads(pid: int) -> list[Path]:
    return [f for d in Path(tempfile.gettempdir()).glob(f"polsearch-fetch-{pid}-*") for f in d.iterdir()]


def _runs(env: dict[str, str], key: str) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        return list(instance.get_runs(dg.RunsFilter(tags={"dagster/partition": key})))


def test_sigterm_stops_an_ingest_without_retry_and_ends_its_run(
    cli_env: dict[str, str], media_server: MediaServer
) -> None:
    source = media_server.url("slow-sample.wav")
    process = _start_ingest(cli_env, source)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, process.stderr.read() if process.stderr else ""
    (run,) = _runs(cli_env, resolve_source(source).key)
    assert run.status == dg.DagsterRunStatus.FAILURE
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(cli_env["DAGSTER_HOME"])) as instance:
        assert _retries(instance, run.run_id) == 0
    assert not _partial_downloads(process.pid)


def test_a_killed_ingest_ends_failed_and_leaves_nothing_behind(
    cli_env: dict[str, str], media_server: MediaServer
) -> None:
    source = media_server.url("slow-sample.wav")
    process = _start_ingest(cli_env, source)
    process.kill()  # SIGKILL: nothing in the process can clean up
    process.wait()
    key = resolve_source(source).key
    (run,) = _runs(cli_env, key)
    assert run.status == dg.DagsterRunStatus.STARTED and _partial_downloads(process.pid)

    listing = polsearch(cli_env, "hearings")  # any local command ends runs whose process is gone
    assert listing.returncode == 0 and f"run {run.run_id}: its process is gone" in listing.stderr
    (run,) = _runs(cli_env, key)
    assert run.status == dg.DagsterRunStatus.FAILURE

    again = polsearch(cli_env, "ingest", str(SAMPLE_WAV))  # the next fetch removes the dead one's download
    assert again.returncode == 0, again.stderr
    assert not _partial_downloads(process.pid)


def test_two_ingests_of_one_hearing_never_run_together(
    cli_env: dict[str, str], media_server: MediaServer
) -> None:
    source = media_server.url("slow-sample.wav")
    first = _start_ingest(cli_env, source)
    try:
        second = polsearch(cli_env, "ingest", source)
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 1
    assert "is being ingested by another polsearch process" in second.stderr.splitlines()[-1]
    assert len(_runs(cli_env, resolve_source(source).key)) == 1  # the second never started a run


def test_an_ffmpeg_child_dies_with_its_killed_parent(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from polsearch_assets.core.audio.media import run_tool; "
            f"run_tool(['sh', '-c', 'echo $$ > {marker}; exec sleep 120'])",
        ]
    )
    deadline = time.monotonic() + 30
    while not (marker.exists() and marker.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)
    child = int(marker.read_text())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
