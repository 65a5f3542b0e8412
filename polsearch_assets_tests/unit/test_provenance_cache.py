"""The provenance cache: keyed by storage id, extended with the events not seen, compact and lossless for the
tags the staleness rule reads."""

from __future__ import annotations

from polsearch_assets.client.provenance import AssetProvenance, rule_tags
from polsearch_assets.client.staleness import Materialization

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
    assert text.count("transcript-v1:tiny.en") == 1 and text.count("input_event_pointer") == 1
    assert AssetProvenance.decode(None).entries == {} and AssetProvenance.decode("").entries == {}
    assert AssetProvenance.decode('{"format": 0, "rows": {}}').entries == {}  # another format: read again


def test_the_sensors_answer_groups_hearings_by_first_stale_asset_and_only_a_request_asks_for_it() -> None:
    from polsearch_assets.defs.hearing.stale import _request, by_first_stale_asset

    plan = {"h1": ["transcript", "aligned_segments"], "h2": ["aligned_segments"], "h3": ["transcript"]}
    assert by_first_stale_asset(plan) == {"transcript": ["h1", "h3"], "aligned_segments": ["h2"]}
    assert _request('{"want": "plan", "max": 3}') == {"want": "plan", "max": 3}
    assert _request(None) == {} and _request("not json") == {} and _request("[1]") == {}
