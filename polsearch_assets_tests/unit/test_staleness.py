"""The client's staleness rule, branch by branch (its agreement with Dagster's resolver on a real archive is in
e2e/test_archive_api.py)."""

from __future__ import annotations

import pytest

from polsearch_assets.client.staleness import (
    AssetNode,
    Materialization,
    first_stale,
    is_stale,
    partition_input_version,
    stale_in,
)

GRAPH = {
    "raw_audio": AssetNode("raw_audio", "raw-v1", (), partitioned=True),
    "transcript": AssetNode("transcript", "asr-v2", ("raw_audio", "library"), partitioned=True),
    "library": AssetNode("library", None, (), partitioned=False),
}
READ = {  # what a run of transcript recorded: code version, and per input its data version and event pointer
    "dagster/code_version": "asr-v2",
    "dagster/data_version": "t1",
    "dagster/input_data_version/raw_audio": partition_input_version("a1"),
    "dagster/input_event_pointer/raw_audio": "10",
    "dagster/input_data_version/library": "lib1",
    "dagster/input_event_pointer/library": "5",
}


def _stale(tags: dict[str, str], raw_audio: str | None = "a1", library: str | None = "lib1") -> bool:
    now = {
        "raw_audio": Materialization(1.0, {"dagster/data_version": raw_audio}) if raw_audio else None,
        "library": Materialization(1.0, {"dagster/data_version": library}) if library else None,
    }
    return is_stale(GRAPH["transcript"], Materialization(2.0, tags), now.get, GRAPH)


@pytest.mark.parametrize(
    ("tags", "current", "stale"),
    [
        (READ, {}, False),  # nothing changed
        (READ | {"dagster/code_version": "asr-v1"}, {}, True),  # a new model
        (READ, {"raw_audio": "a2"}, True),  # the audio was fetched again with other data
        (READ, {"raw_audio": None}, False),  # no record after the pointer (wiped): as Dagster, not stale
        (READ | {"dagster/input_event_pointer/raw_audio": "NULL"}, {"raw_audio": "a2"}, False),
        (READ, {"library": "lib2"}, True),  # the voiceprint library changed
        ({k: v for k, v in READ.items() if not k.endswith("pointer/library")}, {}, True),  # a new dependency
        (READ | {"dagster/input_data_version/vad_chunks": "v1"}, {}, True),  # a removed dependency
        (READ | {"dagster/input_data_version/library": "INITIAL"}, {"library": None}, False),
    ],
)
def test_the_rule(tags: dict[str, str], current: dict[str, str | None], stale: bool) -> None:
    assert _stale(tags, **current) is stale


def test_without_provenance_materialization_times_decide() -> None:
    node, mine = GRAPH["raw_audio"], Materialization(5.0, {})
    assert not is_stale(node, mine, {}.get, GRAPH)  # a root: nothing upstream
    assert not is_stale(GRAPH["transcript"], None, {}.get, GRAPH)  # missing is not stale
    older = {"raw_audio": Materialization(1.0, {}), "library": Materialization(1.0, {})}
    assert not is_stale(GRAPH["transcript"], mine, older.get, GRAPH)
    assert is_stale(GRAPH["transcript"], mine, (older | {"library": Materialization(9.0, {})}).get, GRAPH)
    assert is_stale(GRAPH["transcript"], mine, (older | {"raw_audio": None}).get, GRAPH)


def test_a_run_records_the_hash_of_a_partitioned_inputs_data_version() -> None:
    # Tags of a real deployment run (test_deployment_api): raw_audio's data version, and what vad_chunks
    # recorded reading it. Comparing the two unhashed called every hearing after a real run stale.
    raw_audio = "988b5a74afdd326e6b1025c4d81f0d9613c49189ba6e5bb9809176569b892d2a"
    recorded = "0b2e06fde86da212edc4031f995354ade4018af95ccb25f3889876527bd11ae5"
    assert partition_input_version(raw_audio) == recorded


def test_first_stale_names_each_hearings_first_stale_asset_in_graph_order() -> None:
    latest = {
        "raw_audio": {
            k: Materialization(
                1.0,
                {
                    "dagster/code_version": "raw-v0" if k == "h-old" else "raw-v1",
                    "dagster/data_version": "a2" if k == "h-new-audio" else "a1",
                },
            )
            for k in ("h-ok", "h-old", "h-new-audio", "h-audio-only")
        },
        "transcript": {k: Materialization(2.0, READ) for k in ("h-ok", "h-old", "h-new-audio")},
    }
    whole = {"library": Materialization(1.0, {"dagster/data_version": "lib1"})}
    keys = ["h-ok", "h-old", "h-new-audio", "h-audio-only", "h-never-run"]
    assert stale_in("transcript", keys, latest, GRAPH, whole) == {"h-new-audio"}
    first = first_stale(keys, ("raw_audio", "transcript"), latest, GRAPH, whole)
    # h-old's raw_audio is stale first: its transcript (stale or not) is not asked
    assert first == {"raw_audio": {"h-old"}, "transcript": {"h-new-audio"}}
    library_changed = {"library": Materialization(3.0, {"dagster/data_version": "lib2"})}
    assert first_stale(keys, ("raw_audio", "transcript"), latest, GRAPH, library_changed) == {
        "raw_audio": {"h-old"},
        "transcript": {"h-ok", "h-new-audio"},
    }


def test_the_inputs_a_materialization_recorded() -> None:
    found = Materialization(1.0, READ | {"dagster/input_logical_version/old": "x", "other": "y"})
    assert found.inputs == {
        "raw_audio": partition_input_version("a1"),
        "library": "lib1",
        "old": "x",
    }
    assert found.data_version == "t1" and Materialization(1.0, {}).data_version == "INITIAL"
