"""Feed parsing, the watchlist format, the per-entry decisions of the uploads sensor, and the retry rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from polsearch_assets.core.audio.media import PermanentMediaError, TransientMediaError
from polsearch_assets.core.net import (
    Backoff,
    PermanentNetworkError,
    Response,
    TransientNetworkError,
    call_with_retries,
)
from polsearch_assets.core.sources.ytdlp import UrlProbe
from polsearch_assets.core.uploads.channels import (
    WatchedChannel,
    WatchlistError,
    load_watchlist,
    parse_watchlist,
)
from polsearch_assets.core.uploads.feeds import FeedError, parse_clock_duration, parse_feed
from polsearch_assets.core.uploads.polling import (
    ChannelState,
    ProbeBudget,
    dump_cursor,
    judge_feed,
    load_cursor,
)

YOUTUBE_ATOM = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/"
      xmlns="http://www.w3.org/2005/Atom">
 <link rel="self" href="http://www.youtube.com/feeds/videos.xml?channel_id=UCVvv3JRCWHHrSbVOR0tN8Gg"/>
 <id>yt:channel:VVv3JRCWHHrSbVOR0tN8Gg</id>
 <yt:channelId>VVv3JRCWHHrSbVOR0tN8Gg</yt:channelId>
 <title>House Judiciary GOP</title>
 <author><name>House Judiciary GOP</name><uri>https://www.youtube.com/channel/UCVvv3JRCWHHrSbVOR0tN8Gg</uri></author>
 <published>2011-03-02T21:42:10+00:00</published>
 <entry>
  <id>yt:video:abcDEF12345</id>
  <yt:videoId>abcDEF12345</yt:videoId>
  <yt:channelId>UCVvv3JRCWHHrSbVOR0tN8Gg</yt:channelId>
  <title>Oversight of the Federal Bureau of Investigation</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v=abcDEF12345"/>
  <author><name>House Judiciary GOP</name></author>
  <published>2026-11-20T15:04:05+00:00</published>
  <updated>2026-11-21T01:00:00+00:00</updated>
  <media:group><media:title>Oversight of the Federal Bureau of Investigation</media:title></media:group>
 </entry>
 <entry>
  <id>yt:video:zyxWVU98765</id>
  <yt:videoId>zyxWVU98765</yt:videoId>
  <title>Markup &amp; Votes</title>
  <published>2026-11-19T10:00:00Z</published>
 </entry>
</feed>"""

PODCAST_RSS = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
 <channel>
  <title>Senate Commerce Hearings</title>
  <item>
   <title>Hearing on Spectrum Policy</title>
   <guid>hearing-2026-11-18</guid>
   <link>https://example.gov/hearings/2026-11-18</link>
   <pubDate>Tue, 18 Nov 2026 14:30:00 -0500</pubDate>
   <enclosure url="https://example.gov/audio/2026-11-18.mp3" type="audio/mpeg" length="123"/>
   <itunes:duration>1:32:05</itunes:duration>
  </item>
 </channel>
</rss>"""


def test_youtube_atom_feed() -> None:
    feed = parse_feed(YOUTUBE_ATOM)
    assert feed.title == "House Judiciary GOP"
    first, second = feed.entries
    assert first.entry_id == "abcDEF12345" and first.url == "https://www.youtube.com/watch?v=abcDEF12345"
    assert (
        first.published == datetime(2026, 11, 20, 15, 4, 5, tzinfo=UTC)
        and first.published_date == "2026-11-20"
    )
    assert first.author == "House Judiciary GOP" and first.duration_s is None
    # No alternate link: the watch URL is built from the video id; the feed's author stands in.
    assert second.url == "https://www.youtube.com/watch?v=zyxWVU98765" and second.title == "Markup & Votes"
    assert second.author == "House Judiciary GOP" and second.published.tzinfo is not None


def test_rss_feed_with_enclosures() -> None:
    (item,) = parse_feed(PODCAST_RSS).entries
    assert item.entry_id == "hearing-2026-11-18" and item.url == "https://example.gov/audio/2026-11-18.mp3"
    assert (
        item.duration_s == 5525
        and item.published_date == "2026-11-18"
        and item.author == "Senate Commerce Hearings"
    )


@pytest.mark.parametrize("document", [b"<html><body>not a feed</body></html>", b"<feed", b""])
def test_not_a_feed(document: bytes) -> None:
    with pytest.raises(FeedError):
        parse_feed(document)


@pytest.mark.parametrize(
    ("text", "seconds"), [("3723", 3723), ("1:02:03", 3723), ("62:03", 3723), ("soon", None)]
)
def test_clock_durations(text: str, seconds: float | None) -> None:
    assert parse_clock_duration(text) == seconds


def test_watchlist_sources_and_defaults() -> None:
    channels = parse_watchlist(
        {
            "defaults": {"title_pattern": "(?i)hearing", "min_duration_minutes": 15},
            "channels": [
                {
                    "name": "judiciary",
                    "channel_id": "UCVvv3JRCWHHrSbVOR0tN8Gg",
                    "committee": "House Judiciary",
                },
                {
                    "name": "commerce",
                    "url": "https://www.youtube.com/playlist?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG",
                },
                {"name": "by-url", "url": "https://www.youtube.com/channel/UCVvv3JRCWHHrSbVOR0tN8Gg/videos"},
                {"name": "podcast", "feed_url": "https://example.gov/hearings.rss", "title_pattern": None},
            ],
        },
        "test",
    )
    judiciary, commerce, by_url, podcast = channels
    assert (
        judiciary.resolved_feed_url
        == "https://www.youtube.com/feeds/videos.xml?channel_id=UCVvv3JRCWHHrSbVOR0tN8Gg"
    )
    assert by_url.resolved_feed_url == judiciary.resolved_feed_url
    assert commerce.resolved_feed_url.endswith("?playlist_id=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG")
    assert judiciary.min_duration_s == 900 and judiciary.title_pattern == "(?i)hearing"
    assert podcast.title_pattern is None  # a channel overrides the defaults


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ({"name": "x", "url": "https://www.youtube.com/@HouseJudiciary"}, "yt-dlp --print channel_id"),
        ({"name": "x"}, "exactly one of"),
        (
            {"name": "x", "channel_id": "UCVvv3JRCWHHrSbVOR0tN8Gg", "feed_url": "https://a/b"},
            "exactly one of",
        ),
        ({"name": "x", "channel_id": "nope"}, "not a YouTube channel id"),
        (
            {"name": "x", "feed_url": "https://a/b", "title_pattern": "(unclosed"},
            "not a valid regular expression",
        ),
        ({"name": "x", "feed_url": "https://a/b", "comittee": "typo"}, "comittee"),
        ({"name": "bad name!", "feed_url": "https://a/b"}, "name"),
    ],
)
def test_watchlist_errors_name_the_channel_and_the_cause(channel: dict, message: str) -> None:
    with pytest.raises(WatchlistError, match=r"channels\.yaml: channel") as error:
        parse_watchlist({"channels": [channel]}, "channels.yaml")
    assert message in str(error.value)


def test_watchlist_from_file_and_inline(tmp_path) -> None:
    path = tmp_path / "w.yaml"
    path.write_text("channels:\n  - name: judiciary\n    channel_id: UCVvv3JRCWHHrSbVOR0tN8Gg\n")
    channels = load_watchlist(
        str(path), "https://www.youtube.com/playlist?list=PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG"
    )
    assert [c.name for c in channels] == ["judiciary", "PLx0sYbCqOb8TBPRdmBHs5Iftvv9TPboYG"]
    with pytest.raises(WatchlistError, match="must be unique"):
        load_watchlist(None, "UCVvv3JRCWHHrSbVOR0tN8Gg,UCVvv3JRCWHHrSbVOR0tN8Gg")
    path.write_text(
        "channels:\n  - name: UCVvv3JRCWHHrSbVOR0tN8Gg\n    channel_id: UCVvv3JRCWHHrSbVOR0tN8Gg\n"
    )
    with pytest.raises(WatchlistError, match="used twice"):
        load_watchlist(str(path), "UCVvv3JRCWHHrSbVOR0tN8Gg")
    with pytest.raises(WatchlistError, match="cannot read the watchlist"):
        load_watchlist(str(tmp_path / "missing.yaml"), None)
    with pytest.raises(WatchlistError, match="POLSEARCH_CHANNELS"):
        load_watchlist(None, "https://example.com/not-youtube")


def _judge(probe_answer: UrlProbe | Exception, document: bytes = YOUTUBE_ATOM, **options: object):
    channel = WatchedChannel(name="c", feed_url="https://example.gov/feed", **options)

    def probe(url: str) -> UrlProbe:
        if isinstance(probe_answer, Exception):
            raise probe_answer
        return probe_answer

    return judge_feed(
        channel, ChannelState(), Response(200, {"ETag": '"v1"'}, document), probe, ProbeBudget(10)
    )


def test_live_streams_and_premieres_wait_until_they_are_over() -> None:
    poll = _judge(UrlProbe(duration_s=None, live_status="is_upcoming", title="x"))
    assert (
        poll.accepted == [] and len(poll.deferred) == 2 and poll.state.seen == () and poll.state.etag is None
    )
    done = _judge(UrlProbe(duration_s=7200.0, live_status="was_live", title="x"))
    assert [u.entry.entry_id for u in done.accepted] == [
        "zyxWVU98765",
        "abcDEF12345",
    ] and done.state.etag == '"v1"'


def test_probe_failures() -> None:
    throttled = _judge(TransientMediaError("HTTP 429"))
    assert len(throttled.deferred) == 2 and throttled.state.seen == ()
    private = _judge(PermanentMediaError("Private video"))
    assert private.accepted == [] and "Private video" in private.skipped[0].reason
    assert set(private.state.seen) == {"abcDEF12345", "zyxWVU98765"}


def test_durations_from_the_feed_need_no_probe() -> None:
    poll = _judge(AssertionError("must not probe"), PODCAST_RSS, min_duration_minutes=60)
    assert [u.duration_s for u in poll.accepted] == [5525]
    short = _judge(AssertionError("must not probe"), PODCAST_RSS, min_duration_minutes=120)
    assert "under the 120 min minimum" in short.skipped[0].reason


def test_cursor_round_trip_and_version() -> None:
    states = {"c": ChannelState(etag='"e"', seen=("a", "b"), failures=2, last_error="HTTP 503")}
    assert load_cursor(dump_cursor(states)) == states
    with pytest.raises(ValueError, match="cursor version"):
        load_cursor('{"version": 99, "channels": {}}')


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    backoff = Backoff(attempts=6, base_delay_s=1.0, max_delay_s=5.0, jitter=0.25)
    for retry, nominal in enumerate([1, 2, 4, 5, 5]):
        assert all(0.75 * nominal <= backoff.delay(retry) <= 1.25 * nominal for _ in range(50))


def test_retries_transient_errors_only() -> None:
    waits: list[float] = []
    answers = iter([TransientNetworkError("503", 503), TransientNetworkError("503", 503), "ok"])

    def flaky() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert call_with_retries(flaky, Backoff(attempts=3, jitter=0), sleep=waits.append) == "ok" and waits == [
        1.0,
        2.0,
    ]
    calls = []

    def gone() -> None:
        calls.append(1)
        raise PermanentNetworkError("404", 404)

    with pytest.raises(PermanentNetworkError):
        call_with_retries(gone, Backoff(attempts=5), sleep=waits.append)
    assert len(calls) == 1
    with pytest.raises(TransientNetworkError):
        call_with_retries(lambda: flaky_forever(), Backoff(attempts=2, jitter=0), sleep=lambda s: None)


def flaky_forever() -> None:
    raise TransientNetworkError("timed out")
