"""What a run starts in the background when its resources are set up, so later steps do not wait for it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a fresh process

REPO = Path(__file__).resolve().parents[2]


def test_the_index_resource_starts_importing_lancedb_when_a_run_sets_it_up(tmp_path: Path) -> None:
    """speaker_names and hearing_index open LanceDB; its import (1.5-4 CPU s) now overlaps the audio steps."""
    script = (
        "import importlib, json, sys\n"
        "import dagster as dg\n"
        "from polsearch_assets.backends import loading\n"
        "from polsearch_assets.defs.platform.index import LanceIndex\n"
        "before = 'lancedb' in sys.modules\n"
        f"with dg.build_resources({{'index': LanceIndex.from_settings(uri={str(tmp_path)!r})}}):\n"
        "    started = loading._loads.get((importlib.import_module, 'lancedb'))\n"
        "    imported = started is not None and started.result().__name__ == 'lancedb'\n"
        "print(json.dumps({'before': before, 'started_by_setup': started is not None, 'imported': imported}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True, timeout=600
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {
        "before": False,
        "started_by_setup": True,
        "imported": True,
    }
