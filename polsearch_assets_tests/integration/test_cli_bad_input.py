"""Bad input at the command line: a clear one-line cause, the documented exit code, nothing half-done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polsearch_assets.core.catalog import HearingCatalog
from polsearch_assets.defs.platform.artifacts import LocalArtifactStore
from polsearch_assets_tests.fixtures.media import SAMPLE_WAV
from polsearch_assets_tests.fixtures.processes import polsearch

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test


def test_a_source_that_is_not_audio_exits_2_with_the_cause_last(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("minutes of the meeting\n")
    failed = polsearch(cli_env, "ingest", str(not_audio))
    assert failed.returncode == 2, failed.stdout + failed.stderr
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("error: hearing file-") and "not a media file ffmpeg can read" in last


def test_a_directory_is_not_a_file(cli_env: dict[str, str], tmp_path: Path) -> None:
    result = polsearch(cli_env, "ingest", str(tmp_path))
    assert result.returncode == 2 and "is a directory, not a recording" in result.stderr


def test_export_into_a_missing_directory_is_a_clear_error(cli_env: dict[str, str], tmp_path: Path) -> None:
    key = polsearch(cli_env, "ingest", str(SAMPLE_WAV)).stdout.strip().splitlines()[-1]
    target = tmp_path / "no" / "such" / "dir" / "out.srt"
    result = polsearch(cli_env, "export", key, "--format", "srt", "-o", str(target))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"cannot write {target}" in result.stderr


def test_untrusted_titles_are_shown_plainly(cli_env: dict[str, str]) -> None:
    title = "\x1b[31mOversight\x1b[0m of the\nFBI\r\x07 (part 2)"
    key = polsearch(cli_env, "ingest", str(SAMPLE_WAV), "--title", title).stdout.strip().splitlines()[-1]
    table = polsearch(cli_env, "hearings")
    rows = [line for line in table.stdout.splitlines() if line.startswith(key)]
    assert len(rows) == 1 and "\x1b" not in table.stdout and "\x07" not in table.stdout
    assert "Oversight of the FBI (part 2)" in rows[0]
    stored = json.loads(polsearch(cli_env, "hearings", "--json").stdout)[0]["title"]
    assert stored == title  # stored as given; only the display is cleaned
    hits = polsearch(cli_env, "search", "sensors to monitor corrosion")
    assert "\x1b" not in hits.stdout and "Oversight of the FBI (part 2)" in hits.stdout


def test_forget_removes_a_hearing_everywhere(cli_env: dict[str, str], tmp_path: Path) -> None:
    key = polsearch(cli_env, "ingest", str(SAMPLE_WAV)).stdout.strip().splitlines()[-1]
    assert json.loads(polsearch(cli_env, "search", "corrosion", "--json").stdout)
    forgot = polsearch(cli_env, "forget", key)
    assert forgot.returncode == 0, forgot.stderr
    assert json.loads(polsearch(cli_env, "hearings", "--json").stdout) == []
    assert json.loads(polsearch(cli_env, "search", "corrosion", "--json").stdout) == []
    store = LocalArtifactStore(root=cli_env["POLSEARCH_ARTIFACT_ROOT"])
    assert store.list_artifacts(key) == [] and HearingCatalog(store).get(key) is None
    again = polsearch(cli_env, "forget", key)
    assert again.returncode == 2 and f"no hearing {key}" in again.stderr
