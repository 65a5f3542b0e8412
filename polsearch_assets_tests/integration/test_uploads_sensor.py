"""The youtube_uploads sensor against a real HTTP server that serves channel feeds, watch pages and media."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from polsearch_assets.config import Settings
from polsearch_assets.core.catalog import HearingCatalog
from polsearch_assets.core.sources.registry import resolve_source
from polsearch_assets.core.uploads.polling import load_cursor
from polsearch_assets.defs.platform.artifacts import LocalArtifactStore
from polsearch_assets.defs.uploads.resources import UploadsWatch
from polsearch_assets.defs.uploads.sensors import uploads_sensor
from polsearch_assets_tests.fixtures.feed_server import FeedServer, Video, serve_feeds
from polsearch_assets_tests.fixtures.hearing import hearing_resources, materialize

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test

HEARING = "(?i)hearing|markup"


@pytest.fixture
def feeds(media_files: dict[str, Path]) -> Iterator[FeedServer]:
    with serve_feeds(media=media_files["sample.wav"]) as server:
        server.channels["judiciary"] = [
            Video("jud4", "Hearing highlights in 5 minutes", "2026-11-21T12:00:00+00:00", duration_s=300),
            Video(
                "jud3",
                "Hearing: Oversight of the Federal Bureau of Investigation",
                "2026-11-20T15:00:00+00:00",
                7200,
            ),
            Video("jud2", "Senator asks about bridges", "2026-11-19T15:00:00+00:00", 1800),
            Video("jud1", "Hearing on Bridge Safety", "2026-11-18T14:00:00+00:00", 5400),
        ]
        server.channels["commerce"] = [
            Video("com1", "Markup of H.R. 1234", "2026-11-17T10:00:00+00:00", 3600)
        ]
        yield server


def watchlist(tmp_path: Path, channels: list[dict], **defaults: object) -> str:
    path = tmp_path / "channels.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "defaults": {"title_pattern": HEARING, "min_duration_minutes": 10, **defaults},
                "channels": channels,
            }
        )
    )
    return str(path)


def channel(server: FeedServer, name: str, committee: str | None = None) -> dict:
    return {"name": name, "feed_url": server.feed_url(name), "committee": committee}


def tick(
    instance: dg.DagsterInstance, store: LocalArtifactStore, watch: UploadsWatch, cursor: str | None
) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"uploads_watch": watch, "artifact_store": store}
    )
    result = uploads_sensor(Settings())(context)
    assert isinstance(result, dg.SensorResult)
    # What the daemon does with the result: add the partitions (run requests need no stand-in here).
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def key_of(server: FeedServer, video_id: str) -> str:
    return resolve_source(server.watch_url(video_id)).key


def requested(result: dg.SensorResult) -> list[str]:
    return [r.partition_key for r in result.run_requests]


def added(result: dg.SensorResult) -> list[str]:
    return [k for r in result.dynamic_partitions_requests or [] for k in r.partition_keys]


def test_first_tick_registers_new_hearings_then_nothing_twice(
    instance, store, feeds: FeedServer, tmp_path
) -> None:
    watch = UploadsWatch.from_settings(
        channels_file=watchlist(
            tmp_path,
            [channel(feeds, "judiciary", "House Judiciary"), channel(feeds, "commerce", "Senate Commerce")],
        )
    )
    first = tick(instance, store, watch, None)
    expected = [key_of(feeds, v) for v in ("jud1", "jud3", "com1")]  # oldest first per channel
    assert requested(first) == expected and added(first) == expected
    assert all(r.run_key == f"youtube_uploads:{r.partition_key}" for r in first.run_requests)
    assert all(r.tags["polsearch/trigger"] == "youtube_uploads" for r in first.run_requests)
    entry = HearingCatalog(store).get(key_of(feeds, "jud3"))
    assert entry is not None and entry.title == "Hearing: Oversight of the Federal Bureau of Investigation"
    assert (entry.committee, entry.published_date, entry.channel) == (
        "House Judiciary",
        "2026-11-20",
        "judiciary committee",
    )
    assert entry.location == feeds.watch_url("jud3")
    # jud2 fails the title pattern, jud4 the minimum duration (found by probing its page with yt-dlp).
    state = load_cursor(first.cursor)["judiciary"]
    assert set(state.seen) == {"jud1", "jud2", "jud3", "jud4"} and state.etag
    assert feeds.requests["/watch/jud2"] == 0 and feeds.requests["/watch/jud4"] == 1
    (heartbeat,) = first.asset_events
    assert heartbeat.asset_key == dg.AssetKey("youtube_uploads")
    assert heartbeat.metadata["new_hearings"].value == expected

    second = tick(instance, store, watch, first.cursor)
    assert requested(second) == [] and added(second) == []
    assert feeds.not_modified["/feeds/judiciary.xml"] == 1  # the conditional GET got a 304

    feeds.channels["judiciary"].insert(
        0, Video("jud5", "Hearing on Rail Safety", "2026-11-22T14:00:00+00:00", 4000)
    )
    third = tick(instance, store, watch, second.cursor)
    assert requested(third) == [key_of(feeds, "jud5")] == added(third)
    assert sorted(instance.get_dynamic_partitions("hearings")) == sorted([*expected, key_of(feeds, "jud5")])


def test_cursor_survives_a_restart(instance, store, feeds: FeedServer, tmp_path) -> None:
    path = watchlist(tmp_path, [channel(feeds, "judiciary")])
    stored = tick(instance, store, UploadsWatch.from_settings(channels_file=path), None).cursor
    # A restarted daemon builds a new context (and resources) from the stored cursor.
    feeds.channels["judiciary"].insert(
        0, Video("jud6", "Hearing on Ports", "2026-11-23T09:00:00+00:00", 3000)
    )
    after_restart = tick(instance, store, UploadsWatch.from_settings(channels_file=path), stored)
    assert requested(after_restart) == [key_of(feeds, "jud6")]


def test_one_broken_channel_does_not_stop_the_others(instance, store, feeds: FeedServer, tmp_path) -> None:
    feeds.channels["flaky"] = [Video("fla1", "Hearing on Water", "2026-11-16T10:00:00+00:00", 2000)]
    feeds.fail_first["/feeds/flaky.xml"] = 2  # two 503s, then served: retried inside the tick
    watch = UploadsWatch.from_settings(
        channels_file=watchlist(
            tmp_path,
            [
                {"name": "gone", "feed_url": f"{feeds.base_url}/feeds/gone.xml"},  # 404: permanent, no retry
                channel(feeds, "commerce"),
                channel(feeds, "flaky"),
            ],
        )
    )
    result = tick(instance, store, watch, None)
    assert requested(result) == [key_of(feeds, "com1"), key_of(feeds, "fla1")]
    assert feeds.requests["/feeds/gone.xml"] == 1 and feeds.requests["/feeds/flaky.xml"] == 3
    gone = load_cursor(result.cursor)["gone"]
    assert gone.failures == 1 and "HTTP 404" in gone.last_error
    (heartbeat,) = result.asset_events
    assert heartbeat.metadata["channels_failing"].value == 1
    assert heartbeat.metadata["per_channel"].value["gone"]["ok"] is False

    # The broken channel keeps its failure count until it recovers; nothing is registered twice meanwhile.
    again = tick(instance, store, watch, result.cursor)
    assert requested(again) == [] and load_cursor(again.cursor)["gone"].failures == 2


def test_no_run_for_a_hearing_that_already_has_one(instance, store, feeds: FeedServer, tmp_path) -> None:
    """A hearing registered and run by hand first: the sensor only adds the feed's facts to its catalog entry."""
    from polsearch_assets.defs.hearing.registration import register_hearing

    key = register_hearing(instance, store, feeds.watch_url("jud1")).entry.key
    resources = {**hearing_resources(tmp_path), "artifact_store": store}
    result = materialize(instance, resources, key, "raw_audio")
    assert result.success  # yt-dlp followed the watch page to its media
    tick_result = tick(
        instance,
        store,
        UploadsWatch.from_settings(
            channels_file=watchlist(tmp_path, [channel(feeds, "judiciary", "House Judiciary")])
        ),
        None,
    )
    assert requested(tick_result) == [key_of(feeds, "jud3")]
    assert key not in added(tick_result)
    assert HearingCatalog(store).get(key).committee == "House Judiciary"


def test_probe_budget_defers_the_rest_to_the_next_tick(instance, store, feeds: FeedServer, tmp_path) -> None:
    watch = UploadsWatch.from_settings(
        channels_file=watchlist(tmp_path, [channel(feeds, "judiciary")]), max_probes_per_tick=1
    )
    first = tick(instance, store, watch, None)
    assert requested(first) == [key_of(feeds, "jud1")]
    state = load_cursor(first.cursor)["judiciary"]
    assert state.etag is None  # entries are pending, so the next tick must read the feed again
    second = tick(instance, store, watch, first.cursor)
    assert requested(second) == [key_of(feeds, "jud3")]
    third = tick(instance, store, watch, second.cursor)
    assert requested(third) == [] and set(load_cursor(third.cursor)["judiciary"].seen) == {
        "jud1",
        "jud2",
        "jud3",
        "jud4",
    }


def test_published_after_and_no_channels(instance, store, feeds: FeedServer, tmp_path) -> None:
    watch = UploadsWatch.from_settings(
        channels_file=watchlist(tmp_path, [channel(feeds, "judiciary")], published_after="2026-11-19")
    )
    assert requested(tick(instance, store, watch, None)) == [key_of(feeds, "jud3")]
    context = dg.build_sensor_context(
        instance=instance, resources={"uploads_watch": UploadsWatch.from_settings(), "artifact_store": store}
    )
    skipped = uploads_sensor(Settings())(context)
    assert isinstance(skipped, dg.SkipReason) and "POLSEARCH_CHANNELS_FILE" in skipped.skip_message


def test_a_bad_watchlist_fails_the_tick_clearly(instance, store, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        json.dumps({"channels": [{"name": "x", "url": "https://www.youtube.com/@HouseJudiciary"}]})
    )
    context = dg.build_sensor_context(
        instance=instance,
        resources={
            "uploads_watch": UploadsWatch.from_settings(channels_file=str(bad)),
            "artifact_store": store,
        },
    )
    with pytest.raises(ValueError, match="yt-dlp --print channel_id"):
        uploads_sensor(Settings())(context)
