"""A run the deployment's daemon launched is judged alive or dead only where its worker can be seen.

``dagster dev`` (webserver + daemon, the local run launcher) runs a hearing whose download never ends; a
``polsearch hearings`` on the same instance from another container (a second PID and UTS namespace, made
with ``unshare``) must leave the live run alone (issue "Reliability, round two", case 3: it marked it failed,
``hearing.failed`` went out, then the run succeeded). On the worker's own machine a worker killed by PID still
ends its run FAILURE.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from polsearch_assets.client import DagsterApi
from polsearch_assets.defs.hearing.runs import HOST_TAG, PID_TAG, PIDNS_TAG, owner_tags
from polsearch_assets_tests.e2e.test_deployment_api import wait_until
from polsearch_assets_tests.fixtures.media import serve_media
from polsearch_assets_tests.fixtures.processes import BIN, REPO, dagster_dev, polsearch

pytestmark = pytest.mark.slow

OTHER_CONTAINER = ["unshare", "--pid", "--fork", "--mount-proc", "--uts", "sh", "-c"]


def _run(home: Path, run_id: str) -> dg.DagsterRun:
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        run = instance.get_run_by_id(run_id)
    assert run is not None
    return run


def _exited(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"  # not reaped yet
    except FileNotFoundError:
        return True


def test_a_live_daemon_run_is_never_ended_from_another_container(tmp_path: Path, media_files) -> None:
    home = tmp_path / "dagster_home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POLSEARCH_", "DAGSTER_"))} | {
        "POLSEARCH_HOME": str(tmp_path)
    }
    with serve_media(media_files) as media, dagster_dev(home, env, timeout_s=300) as url:
        run_id = DagsterApi(url=url).submit(media.url("slow-sample.wav")).run_id
        # The worker records where it runs once its steps start.
        run = wait_until(lambda: (r := _run(home, run_id)).tags.get(PID_TAG) and r, "the run worker's tags")
        assert run.status == dg.DagsterRunStatus.STARTED
        local = owner_tags()
        assert (run.tags[HOST_TAG], run.tags[PIDNS_TAG]) == (local[HOST_TAG], local[PIDNS_TAG])
        worker = int(run.tags[PID_TAG])
        cli_env = env | {"DAGSTER_HOME": str(home)}
        elsewhere = subprocess.run(
            [*OTHER_CONTAINER, f"hostname other-container && exec {BIN / 'polsearch'} hearings"],
            env=cli_env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert elsewhere.returncode == 0, elsewhere.stderr
        assert "its process is gone" not in elsewhere.stderr
        assert _run(home, run_id).status == dg.DagsterRunStatus.STARTED
        here = polsearch(cli_env, "hearings")
        assert "its process is gone" not in here.stderr  # its worker is alive, and seen alive here
        assert _run(home, run_id).status == dg.DagsterRunStatus.STARTED

        os.kill(worker, signal.SIGKILL)  # the run worker dies; where it ran, it is seen gone
        wait_until(lambda: _exited(worker), "the worker to exit")
        here = polsearch(cli_env, "hearings")
        assert here.returncode == 0, here.stderr
        # Ended here: by this command, the deployment's abandoned_runs sensor or Dagster's run monitoring.
        ended = _run(home, run_id)
        assert ended.status == dg.DagsterRunStatus.FAILURE, ended.status
