"""A local recording is keyed by its content: moved to a new path, it is the same hearing, found at its new place."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from polsearch_assets.defs.hearing.registration import register_hearing
from polsearch_assets_tests.fixtures.hearing import materialize
from polsearch_assets_tests.fixtures.media import SAMPLE_WAV

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test


def test_a_moved_file_is_re_ingested_from_its_new_path(
    tmp_path: Path, instance: dg.DagsterInstance, resources: dict[str, object]
) -> None:
    store = resources["artifact_store"]
    first = tmp_path / "inbox" / "hearing.wav"
    first.parent.mkdir()
    shutil.copyfile(SAMPLE_WAV, first)
    registered = register_hearing(instance, store, str(first))
    assert registered.moved_from is None
    moved = tmp_path / "archive" / "2026-hearing.wav"
    moved.parent.mkdir()
    shutil.move(first, moved)

    again = register_hearing(instance, store, str(moved))
    assert again.entry.key == registered.entry.key and not again.new_partition
    assert again.entry.location == str(moved.resolve()) and again.moved_from == str(first.resolve())
    assert again.entry.source == str(moved)  # the source as now given
    result = materialize(instance, resources, again.entry.key, "raw_audio", raise_on_error=False)
    assert result.success
