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
from polsearch_assets.core.sources.registry import resolve_source
from polsearch_assets.defs.hearing.resources import MediaFetcher
from polsearch_assets_tests.fixtures.hearing import ingest_audio
from polsearch_assets_tests.fixtures.media import SAMPLE_WAV, MediaServer, silent_wav
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
    resources["media_fetcher"] = MediaFetcher.from_settings(max_download_mb=5.0, socket_timeout_s=5.0)
    started = time.monotonic()
    key, result = ingest_audio(instance, resources, media_server.url("endless-sample.wav"))
    assert not result.success and time.monotonic() - started < 60
    assert "the download passed 5 MB" in _failure(instance, result.run_id)
    assert _retries(instance, result.run_id) == 0  # permanent: no second endless download
    assert not resources["artifact_store"].exists(key, RAW_AUDIO_WAV)
    assert not list(Path(tempfile.gettempdir()).glob(f"polsearch-fetch-{os.getpid()}-*"))  # removed at once


def _fetch_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("polsearch-fetch-*"))


def _start_ingest(env: dict[str, str], source: str) -> tuple[subprocess.Popen[str], Path]:
    """``polsearch ingest`` of ``source``, once its download has written bytes; the download's scratch directory."""
    before = _fetch_dirs()
    process = subprocess.Popen(
        [str(BIN / "polsearch"), "ingest", source],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for scratch in _fetch_dirs() - before:
            if any(f.stat().st_size for f in scratch.iterdir()):
                return process, scratch
        time.sleep(0.2)
    process.kill()
    raise AssertionError("the download never started")


def _runs(env: dict[str, str], key: str) -> list[dg.DagsterRun]:
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        return list(instance.get_runs(dg.RunsFilter(tags={"dagster/partition": key})))


def test_sigterm_stops_an_ingest_without_retry_and_ends_its_run(
    cli_env: dict[str, str], media_server: MediaServer
) -> None:
    source = media_server.url("slow-sample.wav")
    process, scratch = _start_ingest(cli_env, source)
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
    assert not scratch.exists()


def test_sigterm_while_the_transcript_runs_beside_the_diarization_ends_the_run_cleanly(
    cli_env: dict[str, str],
) -> None:
    env = {**cli_env, "POLSEARCH_TRANSCRIPT_BESIDE_DIARIZATION": "1"}
    process = subprocess.Popen(
        [str(BIN / "polsearch"), "ingest", str(SAMPLE_WAV)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    key = resolve_source(str(SAMPLE_WAV)).key
    try:
        run_id = _when_logged(env, key, "transcript started beside diarization", process)
        process.send_signal(signal.SIGTERM)  # the thread transcribing must stop, not crash the exiting CLI
        process.wait(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, process.stderr.read() if process.stderr else ""
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(cli_env["DAGSTER_HOME"])) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
        assert _retries(instance, run_id) == 0
        materialized = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
        assert {r.dagster_event.asset_key.path[-1] for r in materialized} == {"raw_audio", "vad_chunks"}


def _when_logged(env: dict[str, str], key: str, text: str, process: subprocess.Popen[str]) -> str:
    """The id of the hearing's run once a step of it has logged ``text``."""
    deadline = time.monotonic() + 180
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        while time.monotonic() < deadline and process.poll() is None:
            for run in instance.get_runs(dg.RunsFilter(tags={"dagster/partition": key})):
                if any(text in (r.user_message or "") for r in instance.all_logs(run.run_id)):
                    return run.run_id
            time.sleep(0.2)
    raise AssertionError(f"no run of {key} logged {text!r}")


def test_a_killed_ingest_ends_failed_and_leaves_nothing_behind(
    cli_env: dict[str, str], media_server: MediaServer
) -> None:
    source = media_server.url("slow-sample.wav")
    process, scratch = _start_ingest(cli_env, source)
    process.kill()  # SIGKILL: nothing in the process can clean up
    process.wait()
    key = resolve_source(source).key
    (run,) = _runs(cli_env, key)
    assert run.status == dg.DagsterRunStatus.STARTED and scratch.exists()

    listing = polsearch(cli_env, "hearings")  # any local command ends runs whose process is gone
    assert listing.returncode == 0 and f"run {run.run_id}: its process is gone" in listing.stderr
    (run,) = _runs(cli_env, key)
    assert run.status == dg.DagsterRunStatus.FAILURE

    again = polsearch(cli_env, "ingest", str(SAMPLE_WAV))  # the next fetch removes the dead one's download
    assert again.returncode == 0, again.stderr
    assert not scratch.exists()


def test_two_ingests_of_one_hearing_never_run_together(
    cli_env: dict[str, str], media_server: MediaServer
) -> None:
    source = media_server.url("slow-sample.wav")
    first, _ = _start_ingest(cli_env, source)
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


def test_the_cause_survives_running_out_of_retries(
    cli_env: dict[str, str], media_server: MediaServer
) -> None:
    media_server.fail_first["flaky-sample.wav"] = 100
    result = polsearch(cli_env, "ingest", media_server.url("flaky-sample.wav"))
    assert result.returncode == 1
    (failed,) = [line for line in result.stdout.splitlines() if line.startswith("[raw_audio] FAILED")]
    assert "HTTP 503 from the source" in failed and failed.endswith("(after 3 retries)")


def test_first_registrations_at_the_same_moment_never_crash(tmp_path: Path, cli_env: dict[str, str]) -> None:
    """Fresh DAGSTER_HOME, several ingests started together: the instance's tables are created once,
    each hearing gets one partition, and no one sees a raw SQLite error."""
    env = cli_env | {"DAGSTER_HOME": str(tmp_path / "fresh_home")}  # created by the CLI itself
    silent = [str(silent_wav(tmp_path / f"silent{i}.wav", 3 + i)) for i in range(2)]  # 2 hearings
    sources = ["(hearings)", silent[0], silent[0], silent[1]]
    processes = [
        subprocess.Popen(
            [str(BIN / "polsearch"), "hearings", "--json"]
            if i == 0
            else [str(BIN / "polsearch"), "ingest", source],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, source in enumerate(sources)
    ]
    outputs = [p.communicate(timeout=600) for p in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert "Traceback" not in stderr and "sqlite3" not in stderr, stderr
        assert process.returncode in (0, 1), stderr  # 1: the same file was being ingested by the other
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(env["DAGSTER_HOME"])) as instance:
        partitions = instance.get_dynamic_partitions("hearings")
    assert len(partitions) == len(set(partitions)) == 2
