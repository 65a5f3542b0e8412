"""The speaker library under faults, with real processes: two namings at once, a naming killed by PID during
its refresh, a local command in another PID/UTS namespace while a run is live, hostile names, a read-only
index volume and a full disk.

Each test reproduces a case of the issue "Reliability, round two" that once broke: the library and the index
rows disagreed for good after two namings at once; a naming killed in its refresh left the hearing unnamed and
naming again did not repair it; a command in another container declared a live run dead; `speakers name`
echoed control sequences; a read-only or full volume was reported as "the speaker_library run failed" or
"Error occurred while executing op", and retried as if transient.

The home (Dagster instance, artifacts, LanceDB) holds the sample hearing, ingested once per module by the CLI
and copied for each test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import lancedb
import pytest
from dagster._core.instance.ref import InstanceRef

from polsearch_assets.core.artifacts import read_speaker_names
from polsearch_assets.core.index.segments import SegmentIndex
from polsearch_assets.defs.platform.artifacts import LocalArtifactStore
from polsearch_assets.local.instance import LOCAL_DAGSTER_YAML
from polsearch_assets_tests.fixtures.hearing import settings_for
from polsearch_assets_tests.fixtures.media import SAMPLE_WAV, MediaServer
from polsearch_assets_tests.fixtures.processes import BIN, REPO, polsearch

pytestmark = pytest.mark.slow  # real CLI processes on an ingested hearing

KEY = "file-0583d86f33ce"  # the sample hearing's key


def _env(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(root / "dagster_home"),
        "POLSEARCH_ARTIFACT_ROOT": str(root / "artifacts"),
        "POLSEARCH_LANCEDB_URI": str(root / "lancedb"),
    }


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ingested")
    (root / "dagster_home").mkdir()
    (root / "dagster_home" / "dagster.yaml").write_text(LOCAL_DAGSTER_YAML.read_text())
    result = subprocess.run(  # every model runs: longer than polsearch()'s limit on a busy machine
        [str(BIN / "polsearch"), "ingest", str(SAMPLE_WAV)],
        env=_env(root),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert KEY in result.stdout
    return root


@pytest.fixture
def home(ingested: Path, tmp_path: Path) -> Path:
    """A copy of the ingested home, this test's own."""
    root = tmp_path / "home"
    shutil.copytree(ingested, root)
    return root


def _instance(root: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(root / "dagster_home")))


def _library(root: Path) -> dict[str, str]:
    """The hearing's enrolled speakers: label -> person, read from the LanceDB table itself."""
    try:
        table = lancedb.connect(str(root / "lancedb")).open_table("voiceprints")
    except ValueError:  # nobody was ever enrolled
        return {}
    return {r["speaker"]: r["person"] for r in table.to_arrow().to_pylist() if r["hearing"] == KEY}


def _agreement(root: Path) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(library, speaker_names, index rows): label -> person for the hearing's named speakers, each read
    from where it is stored."""
    names = read_speaker_names(LocalArtifactStore(root=str(root / "artifacts")), KEY)
    recorded = {label: str(n.person) for label, n in names.named().items()}
    rows = SegmentIndex(str(root / "lancedb"), None).rows(KEY)
    assert rows
    indexed = {r["speaker_label"]: r["speaker_name"] for r in rows if r["speaker_name"] != r["speaker_label"]}
    return _library(root), recorded, indexed


def _said_by(root: Path, person: str) -> str:
    """The text of one index row named after ``person``: a query that finds it whatever else the hearing says
    (a query such as "the" is a stop word to BM25 and too far from every segment for the vector search)."""
    rows = SegmentIndex(str(root / "lancedb"), None).rows(KEY)
    return next(r["text"] for r in rows if r["speaker_name"] == person)


def _assert_agree(root: Path) -> None:
    library, recorded, indexed = _agreement(root)
    assert library == recorded == indexed, f"library {library}, speaker_names {recorded}, index {indexed}"


def _start(env: dict[str, str], *args: str, gate: Path | None = None) -> subprocess.Popen[str]:
    """``polsearch ARGS`` in its own process; with ``gate``, it starts once that file exists (a barrier)."""
    command = [str(BIN / "polsearch"), *args]
    if gate is not None:
        command = ["sh", "-c", f'while [ ! -e "{gate}" ]; do sleep 0.01; done; exec "$0" "$@"', *command]
    return subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for(condition: Callable[[], bool], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_two_namings_at_once_leave_the_library_and_the_index_agreeing(home: Path, tmp_path: Path) -> None:
    env = _env(home)
    for round_, people in enumerate((("Alice Able", "Carol Cole"), ("Dan Dunn", "Eve Eden"))):
        gate = tmp_path / f"go{round_}"
        processes = [
            _start(env, "speakers", "name", KEY, "SPEAKER_1", person, gate=gate) for person in people
        ]
        gate.touch()
        outputs = [p.communicate(timeout=600) for p in processes]
        for process, (stdout, stderr) in zip(processes, outputs, strict=True):
            assert process.returncode == 0, stdout + stderr
        assert _library(home)["SPEAKER_1"] in people
        _assert_agree(home)
    winner = _library(home)["SPEAKER_1"]
    loser = next(p for p in ("Dan Dunn", "Eve Eden") if p != winner)
    said = _said_by(home, winner)
    found = polsearch(env, "search", said, "--speaker", winner, "--json")
    assert found.returncode == 0 and json.loads(found.stdout), found.stderr
    gone = polsearch(env, "search", said, "--speaker", loser, "--json")
    assert gone.returncode != 0 or json.loads(gone.stdout) == []  # nobody of that name any more
    checked = polsearch(env, "speakers", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _runs_of(root: Path, job: str) -> list[dg.DagsterRun]:
    with _instance(root) as instance:
        return list(instance.get_runs(dg.RunsFilter(job_name=job)))


def _started(instance: dg.DagsterInstance, job: str, step: str | None) -> bool:
    """Whether a run of ``job`` is STARTED (and, with ``step``, has started that step)."""
    for run in instance.get_runs(dg.RunsFilter(job_name=job, statuses=[dg.DagsterRunStatus.STARTED])):
        if step is None or any(
            r.step_key == step for r in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START)
        ):
            return True
    return False


@pytest.mark.parametrize(
    ("job", "step"),
    [
        ("speaker_library", None),  # killed while changing the library
        ("speaker_names_refresh", "speaker_names"),  # killed in its refresh: matching
        ("speaker_names_refresh", "hearing_index"),  # killed in its refresh: writing the index rows
    ],
)
def test_a_naming_killed_by_pid_is_repaired_by_naming_again(home: Path, job: str, step: str | None) -> None:
    env = _env(home)
    before = {r.run_id for r in _runs_of(home, job)}
    process = _start(env, "speakers", "name", KEY, "SPEAKER_1", "Kim Kill")
    try:
        with _instance(home) as instance:
            _wait_for(lambda: _started(instance, job, step) or process.poll() is not None)
        assert process.poll() is None, "the naming ended before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    (killed,) = [r for r in _runs_of(home, job) if r.run_id not in before]
    assert killed.status == dg.DagsterRunStatus.STARTED  # nothing in the process could end it

    again = polsearch(env, "speakers", "name", KEY, "SPEAKER_1", "Kim Kill")
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"run {killed.run_id}: its process is gone" in again.stderr
    assert f"hearing {KEY}: names updated" in again.stdout
    assert _library(home) == {"SPEAKER_1": "Kim Kill"}
    _assert_agree(home)
    found = polsearch(env, "search", _said_by(home, "Kim Kill"), "--speaker", "Kim Kill", "--json")
    assert found.returncode == 0 and json.loads(found.stdout), found.stderr
    with _instance(home) as instance:  # no audio model ran again: one materialization each, from the ingest
        for asset in ("transcript", "diarization"):
            assert len(instance.fetch_materializations(dg.AssetKey(asset), limit=10).records) == 1


def _start_slow_ingest(env: dict[str, str], media_server: MediaServer) -> tuple[subprocess.Popen[str], str]:
    """A ``polsearch ingest`` whose download goes on (320 KB/s, no end); its run, once STARTED."""
    process = _start(env, "ingest", media_server.url("slow-sample.wav"))
    root = Path(env["DAGSTER_HOME"]).parent
    runs: list[dg.DagsterRun] = []

    def started() -> bool:
        runs[:] = [r for r in _runs_of(root, "hearing_pipeline") if r.status == dg.DagsterRunStatus.STARTED]
        return bool(runs) or process.poll() is not None

    _wait_for(started)
    assert process.poll() is None, process.communicate()
    return process, runs[0].run_id


_NAMESPACES = {
    "another PID namespace, same host name": ["unshare", "--pid", "--fork", "--mount-proc"],
    "another container (PID and UTS namespaces)": [
        "unshare", "--pid", "--fork", "--mount-proc", "--uts", "sh", "-c", 'hostname other-container && exec "$0" "$@"'
    ],
}  # fmt: skip


def test_a_command_in_another_namespace_never_ends_a_live_run(
    tmp_path: Path, cli_env: dict[str, str], media_server: MediaServer
) -> None:
    process, run_id = _start_slow_ingest(cli_env, media_server)
    root = Path(cli_env["DAGSTER_HOME"]).parent
    try:
        for where, prefix in _NAMESPACES.items():
            listing = subprocess.run(
                [*prefix, str(BIN / "polsearch"), "hearings"],
                env=cli_env,
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert listing.returncode == 0, listing.stderr
            assert "its process is gone" not in listing.stderr, where
            with _instance(root) as instance:
                run = instance.get_run_by_id(run_id)
                assert run is not None and run.status == dg.DagsterRunStatus.STARTED, where
        assert process.poll() is None  # the ingest works on
    finally:
        process.kill()
        process.wait()
    listing = polsearch(cli_env, "hearings")  # here, where its process was, the killed run is ended
    assert f"run {run_id}: its process is gone" in listing.stderr


_HOSTILE = "Evil \x1b]0;pwned\x07Name\r\nInjected: line"


def test_names_are_sanitised_when_named_and_forgotten(home: Path) -> None:
    env = _env(home)
    named = polsearch(env, "speakers", "name", KEY, "SPEAKER_1", _HOSTILE)
    forgot = polsearch(env, "speakers", "forget", _HOSTILE)
    for result in (named, forgot):
        assert result.returncode == 0, result.stderr
        output = result.stdout + result.stderr
        assert "\x1b" not in output and "\x07" not in output and "\r" not in output
        assert not any(line.startswith("Injected") for line in output.splitlines())
    assert "Evil Name Injected: line" in named.stdout  # shown, on one line
    assert "forgot Evil Name Injected: line" in forgot.stdout


@contextmanager
def _mounted(*commands: list[str], target: Path) -> Iterator[None]:
    """Mount something at ``target`` (as root), unmounted after however the block ends."""
    for command in commands:
        subprocess.run(command, check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


@contextmanager
def _read_only(directory: Path) -> Iterator[None]:
    """``directory`` made read-only by a read-only bind mount of itself (root ignores chmod)."""
    with _mounted(
        ["mount", "--bind", str(directory), str(directory)],
        ["mount", "-o", "remount,ro,bind", str(directory)],
        target=directory,
    ):
        yield


def _retries(root: Path, run_id: str) -> int:
    with _instance(root) as instance:
        return len(instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY))


def test_a_read_only_index_volume_names_its_cause(home: Path) -> None:
    env = _env(home)
    with _read_only(home / "lancedb"):
        named = polsearch(env, "speakers", "name", KEY, "SPEAKER_1", "Rita Read")
    assert named.returncode == 2
    last = named.stderr.strip().splitlines()[-1]
    assert "storage error (read-only file system)" in last and "run failed" not in last, named.stderr
    assert _library(home) == {}


def test_a_read_only_index_during_a_refresh_fails_it_at_once_and_the_next_refresh_repairs_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _env(home)
    for name, value in env.items():
        if name.startswith(("DAGSTER_", "POLSEARCH_")):
            monkeypatch.setenv(name, value)
    from polsearch_assets.local import speakers

    # As on a deployment: the library changes, the names follow later.
    speakers.name(KEY, "SPEAKER_1", "Rita Read", refresh=False, settings=settings_for(home))
    with _read_only(home / "lancedb"):
        refreshed = polsearch(env, "speakers", "refresh")
    (line,) = [line for line in refreshed.stdout.splitlines() if "FAILED to update names" in line]
    assert "[hearing_index] storage error (read-only file system)" in line, refreshed.stdout
    (run,) = _runs_of(home, "speaker_names_refresh")
    assert run.status == dg.DagsterRunStatus.FAILURE and _retries(home, run.run_id) == 0
    repaired = polsearch(env, "speakers", "refresh")
    assert f"hearing {KEY}: names updated" in repaired.stdout, repaired.stdout + repaired.stderr
    _assert_agree(home)


def test_a_full_disk_names_its_cause_and_the_next_refresh_repairs_it(home: Path) -> None:
    env = _env(home)
    artifacts = home / "artifacts"
    saved = home / "artifacts-saved"
    artifacts.rename(saved)
    artifacts.mkdir()
    with _mounted(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(artifacts)], target=artifacts):
        shutil.copytree(saved, artifacts, dirs_exist_ok=True)
        filler = artifacts / "filler"
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True, check=False)
        named = polsearch(env, "speakers", "name", KEY, "SPEAKER_1", "Fay Full")
        assert named.returncode == 0, named.stdout + named.stderr  # the library (elsewhere) changed
        (line,) = [line for line in named.stdout.splitlines() if "FAILED to update names" in line]
        assert "storage error (no space left on device)" in line and "No space left on device" in line, line
        assert "DagsterExecutionStepExecutionError" not in line and "Error occurred" not in line
        filler.unlink()
        repaired = polsearch(env, "speakers", "refresh")
        assert f"hearing {KEY}: names updated" in repaired.stdout, repaired.stdout + repaired.stderr
        _assert_agree(home)
        assert _library(home) == {"SPEAKER_1": "Fay Full"}


def test_on_a_deployment_a_hearing_behind_the_library_is_refreshed_again(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What automation's backfill missed (here: a library change nobody followed) the sensor asks for, once."""
    from polsearch_assets.definitions import build_definitions
    from polsearch_assets.defs.hearing import name_refresh
    from polsearch_assets.local import speakers

    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    settings = settings_for(home)
    speakers.name(KEY, "SPEAKER_1", "Sam Sensor", refresh=False, settings=settings)
    defs = build_definitions(settings)
    sensor = defs.get_sensor_def("speaker_names_behind")
    resources = {name: defs.resources[name] for name in ("artifact_store", "lance_index")}
    with _instance(home) as instance:
        early = sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert not early.run_requests  # automation's own backfill has its turn first
        monkeypatch.setattr(name_refresh, "_BEHIND_GRACE_S", 0)
        (request,) = sensor(dg.build_sensor_context(instance=instance, resources=resources)).run_requests
        assert request.partition_key == KEY and request.run_key.startswith(f"{KEY}@")
        job = defs.resolve_job_def("speaker_names_refresh")
        assert job.execute_in_process(instance=instance, partition_key=KEY, tags=request.tags).success
        assert not sensor(dg.build_sensor_context(instance=instance, resources=resources)).run_requests
    _assert_agree(home)
    assert _library(home) == {"SPEAKER_1": "Sam Sensor"}
