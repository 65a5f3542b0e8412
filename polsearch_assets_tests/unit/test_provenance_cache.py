"""The provenance cache: keyed by storage id, extended with the events not seen, compact and lossless for the
tags the staleness rule reads."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
from dagster._core.events import DagsterEventType
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage

from polsearch_assets.client.provenance import AssetProvenance, rule_tags
from polsearch_assets.client.staleness import Materialization
from polsearch_assets.core.contracts import HEARING_ASSETS
from polsearch_assets.defs.hearing.stale import (
    materialization_reader,
    read_stored_events,
    read_through_dagster,
    tags_and_time,
    tags_and_time_from_the_end,
)
from polsearch_assets_tests.fixtures.archive import archive_home, record_archive_hearings

TAGS = {
    "dagster/code_version": "transcript-v1:tiny.en",
    "dagster/data_version": "9f2a",
    "dagster/input_data_version/raw_audio": "ab" * 32,
    "dagster/input_event_pointer/raw_audio": "17",
    "dagster/input_logical_version/old": "x",
    "dagster/run_id": "not read by the rule",
    "polsearch/trigger": "not read either",
}


def test_only_the_rules_tags_are_kept() -> None:
    assert set(rule_tags(TAGS)) == {
        "dagster/code_version",
        "dagster/data_version",
        "dagster/input_data_version/raw_audio",
        "dagster/input_event_pointer/raw_audio",
        "dagster/input_logical_version/old",
    }


def test_only_events_not_cached_are_read_and_gone_hearings_are_dropped() -> None:
    cache = AssetProvenance()
    assert cache.to_read({"h1": 10, "h2": 11}) == {"h1": 10, "h2": 11}
    cache.add("h1", 10, 1000.0, TAGS)
    cache.add("h2", 11, 2000.0, TAGS)
    assert cache.to_read({"h1": 10, "h2": 11}) == {}
    assert cache.to_read({"h1": 10, "h2": 25, "h3": 30}) == {"h2": 25, "h3": 30}  # h2 re-run, h3 new
    assert cache.to_read({"h2": 11}) == {} and set(cache.entries) == {"h2"}  # h1 wiped or deleted


def test_encoding_is_lossless_and_names_each_tag_and_code_version_once() -> None:
    cache = AssetProvenance()
    for i in range(50):
        cache.add(f"hearing-{i}", 100 + i, 1000.0 + i, TAGS | {"dagster/data_version": f"d{i}"})
    text = cache.encode()
    again = AssetProvenance.decode(text)
    assert again.entries == cache.entries
    assert again.latest()["hearing-3"] == Materialization(
        1003.0, rule_tags(TAGS) | {"dagster/data_version": "d3"}
    )
    plain = zlib.decompress(base64.b64decode(text)).decode()
    assert plain.count("transcript-v1:tiny.en") == 1 and plain.count("input_event_pointer") == 1
    assert len(text) < len(plain) / 4
    assert AssetProvenance.decode(None).entries == {} and AssetProvenance.decode("").entries == {}
    assert AssetProvenance.decode(plain).entries == {}  # format 1 (not deflated) or another: read again
    other = base64.b64encode(zlib.compress(b'{"format": 0, "rows": {}}')).decode()
    assert (
        AssetProvenance.decode(other).entries == {}
        and AssetProvenance.decode("bm90IGEgY2FjaGU=").entries == {}
    )


def test_the_sensors_answer_groups_hearings_by_first_stale_asset_and_only_a_request_asks_for_it() -> None:
    from polsearch_assets.defs.hearing.stale import _request, by_first_stale_asset

    plan = {"h1": ["transcript", "aligned_segments"], "h2": ["aligned_segments"], "h3": ["transcript"]}
    assert by_first_stale_asset(plan) == {"transcript": ["h1", "h3"], "aligned_segments": ["h2"]}
    assert _request('{"want": "plan", "max": 3}') == {"want": "plan", "max": 3}
    assert _request(None) == {} and _request("not json") == {} and _request("[1]") == {}


def test_the_stored_events_json_gives_what_dagster_deserializes(tmp_path: Path) -> None:
    """The cold fill reads each event's stored JSON (``read_stored_events``) instead of Dagster's whole
    deserialization: the same hearing, storage id, time and tags for every kind of materialization a hearing
    has (run provenance, an older code version, a re-run, no provenance at all, no tags, metadata), including
    a materialization of another asset and a non-partitioned one asked by mistake, which are left out."""
    home, defs = archive_home(tmp_path)
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        record_archive_hearings(
            instance, defs, ["h0", "h1", "h2"],
            code_versions={"h1": {"transcript": "transcript-v0"}}, reruns={"h2": "vad_chunks"},
        )  # fmt: skip
        for partition, tags in (("h0", {"dagster/data_version": "by hand"}), ("h1", None)):
            instance.report_runless_asset_event(
                dg.AssetMaterialization("transcript", partition=partition, tags=tags,
                                        metadata={"words": 12, "note": 'a "tags": {} in text'})
            )  # fmt: skip
        library = instance.fetch_materializations(dg.AssetKey("voiceprint_library"), limit=1).records[0]
        storage = instance.event_log_storage
        assert isinstance(storage, SqlEventLogStorage)  # what the local and the production instances have
        asked = {
            asset: [*instance.get_latest_storage_id_by_partition(
                dg.AssetKey(asset), DagsterEventType.ASSET_MATERIALIZATION
            ).values(), library.storage_id]
            for asset in HEARING_ASSETS
        }  # fmt: skip
        expected = {asset: sorted(read_through_dagster(instance, asset, ids)) for asset, ids in asked.items()}
        with materialization_reader(instance) as read:  # one connection for every asset and batch
            stored = {asset: sorted(read(asset, ids)) for asset, ids in asked.items()}
            assert read("transcript", []) == []
        assert stored == expected
        for asset, found in stored.items():
            assert [key for key, *_ in found] == ["h0", "h1", "h2"], asset
        assert [tags for *_, tags in stored["transcript"]][:2] == [{"dagster/data_version": "by hand"}, {}]


def test_a_runs_materializations_are_read_from_the_end_of_their_json(tmp_path: Path) -> None:
    """Events a run writes (run, step and logging tags, metadata before the tags, a JSON metadata value with its
    own ``tags`` key) take the fast path, which parses only the tags and the time; an event whose tags hold a
    key named ``tags`` does not, and is parsed whole. Both give what Dagster deserializes."""
    home, _ = archive_home(tmp_path)
    hearings = dg.StaticPartitionsDefinition(["h0", "h1"])
    metadata = {
        "words": 3,
        "doc": dg.MetadataValue.json({"tags": {"a": "b"}}),
        "note": 'a "tags": {} in text',
    }

    @dg.asset(partitions_def=hearings, code_version="up-v1")
    def up() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion("v1"))

    @dg.asset(partitions_def=hearings, code_version="down-v1", deps=[up])
    def down() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata=metadata)

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        for key in ("h0", "h1"):
            assert dg.materialize([up, down], instance=instance, partition_key=key).success
        instance.report_runless_asset_event(
            dg.AssetMaterialization("up", partition="h1", tags={"tags": "named-tags"})
        )
        storage = instance.event_log_storage
        assert isinstance(storage, SqlEventLogStorage)
        table = SqlEventLogStorageTable
        for asset in ("up", "down"):
            ids = instance.get_latest_storage_id_by_partition(
                dg.AssetKey(asset), DagsterEventType.ASSET_MATERIALIZATION
            )
            with storage.index_connection() as conn:
                texts = dict(conn.execute(sa.select(table.c.partition, table.c.event).where(table.c.id.in_(ids.values()))).fetchall())  # fmt: skip
            for key, text in texts.items():
                fast = tags_and_time_from_the_end(text)
                assert (fast is None) == (asset == "up" and key == "h1"), (asset, key)
                event = json.loads(text)
                whole = event["dagster_event"]["event_specific_data"]["materialization"]["tags"]
                assert tags_and_time(text) == (whole, event["timestamp"])
            with storage.index_connection() as conn:
                stored = sorted(read_stored_events(conn, asset, list(ids.values())))
            assert stored == sorted(read_through_dagster(instance, asset, list(ids.values())))
        assert "dagster/input_data_version/up" in stored[0][3]  # a run's provenance, read from the end
