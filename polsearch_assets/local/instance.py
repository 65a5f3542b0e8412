"""The Dagster instance the local commands (CLI, Python API) record their runs in."""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from polsearch_assets.config import Settings

if TYPE_CHECKING:
    import dagster as dg

# The local instance configuration (run queue, run monitoring, retention). It ships in the package, not at the
# repository root: `dagster dev` run from the root would warn that a dagster.yaml there is not DAGSTER_HOME's.
LOCAL_DAGSTER_YAML = Path(__file__).with_name("dagster.yaml")


def instance_home(settings: Settings) -> Path:
    """DAGSTER_HOME, or $POLSEARCH_HOME/dagster."""
    return Path(settings.dagster_home or settings.polsearch_home() / "dagster")


def local_instance(settings: Settings | None = None) -> dg.DagsterInstance:
    """The DAGSTER_HOME instance; defaults to $POLSEARCH_HOME/dagster (settings: the environment's).

    A home the CLI creates (the default, or a DAGSTER_HOME that does not exist yet) gets
    ``LOCAL_DAGSTER_YAML``; an existing one is used as it is.
    """
    import dagster as dg  # here: the remote commands never import Dagster

    settings = settings or Settings.from_env()
    home = instance_home(settings)
    if not home.exists() or not settings.dagster_home:
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "dagster.yaml").exists():
            shutil.copyfile(LOCAL_DAGSTER_YAML, home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home.resolve())  # where DagsterInstance.get() and its run workers look
    # Opening an instance creates its SQLite tables the first time; two commands doing that at once
    # crash ("table ... already exists"), so the first opening is one at a time.
    with open(home / ".polsearch-open.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        instance = dg.DagsterInstance.get()
    from polsearch_assets.defs.hearing.runs import end_abandoned_runs

    for run_id in end_abandoned_runs(instance):  # runs of killed ingests would otherwise stay STARTED
        print(f"run {run_id}: its process is gone (killed or crashed); marked failed", file=sys.stderr)
    return instance
