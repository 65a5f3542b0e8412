"""Finding new uploads on watched channels: the logic of the uploads sensor, free of Dagster.

Per channel and tick: one conditional GET of its feed (ETag / Last-Modified, so an
unchanged feed costs a 304), then, for entries not seen before, the cheap filters
(title pattern, publication date), then a metadata probe (duration, live state) for
what passed. Entries are remembered in the cursor once decided, so a restart or a
second tick never registers them twice. An entry is *deferred*, not decided, while
it is a live stream or premiere not yet over, or while its probe fails transiently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from polsearch_assets.core.audio.media import MediaError, TransientMediaError
from polsearch_assets.core.net import NetworkError, Response
from polsearch_assets.core.sources.ytdlp import LIVE_NOT_DOWNLOADABLE, UrlProbe
from polsearch_assets.core.uploads.channels import WatchedChannel
from polsearch_assets.core.uploads.feeds import FeedEntry, FeedError, parse_feed

CURSOR_VERSION = 1
MIN_SEEN_KEPT = 1000  # per channel; a YouTube feed shows 15 entries, so this spans years of uploads

FetchFeed = Callable[[str, Mapping[str, str]], Response]  # (url, conditional headers) -> 200 or 304
ProbeUrl = Callable[[str], UrlProbe]


@dataclass(frozen=True)
class ChannelState:
    """What the cursor keeps per channel."""

    etag: str | None = None
    last_modified: str | None = None
    seen: tuple[str, ...] = ()  # decided entry ids, oldest first
    failures: int = 0  # consecutive failed polls
    last_error: str | None = None

    def conditional_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def load_cursor(text: str | None) -> dict[str, ChannelState]:
    if not text:
        return {}
    data = json.loads(text)
    if data.get("version") != CURSOR_VERSION:
        raise ValueError(f"uploads cursor version {data.get('version')!r}; this code reads {CURSOR_VERSION}")
    return {
        name: ChannelState(**{**state, "seen": tuple(state.get("seen", ()))})
        for name, state in data["channels"].items()
    }


def dump_cursor(states: Mapping[str, ChannelState]) -> str:
    return json.dumps(
        {
            "version": CURSOR_VERSION,
            "channels": {name: asdict(state) for name, state in sorted(states.items())},
        },
        separators=(",", ":"),
    )


@dataclass(frozen=True)
class Decision:
    """An entry that is not (yet) a hearing, and why."""

    entry: FeedEntry
    reason: str
    deferred: bool = False  # not decided: looked at again on the next tick


@dataclass(frozen=True)
class Upload:
    """An entry that passed every filter: it becomes a hearing."""

    channel: WatchedChannel
    entry: FeedEntry
    duration_s: float | None


@dataclass
class ChannelPoll:
    channel: WatchedChannel
    state: ChannelState
    accepted: list[Upload] = field(default_factory=list)
    skipped: list[Decision] = field(default_factory=list)
    deferred: list[Decision] = field(default_factory=list)
    error: str | None = None
    not_modified: bool = False


class ProbeBudget:
    """Probes left this tick: a tick must finish within the sensor timeout, probes take a second or two each."""

    def __init__(self, probes: int):
        self.left = probes

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


def _remember(state: ChannelState, decided: Iterable[str], feed_size: int) -> tuple[str, ...]:
    seen = list(state.seen)
    known = set(seen)
    for entry_id in decided:
        if entry_id not in known:
            seen.append(entry_id)
            known.add(entry_id)
    keep = max(MIN_SEEN_KEPT, 2 * feed_size)
    return tuple(seen[-keep:])


def _judge(
    channel: WatchedChannel, entry: FeedEntry, probe: ProbeUrl, budget: ProbeBudget
) -> Upload | Decision:
    reason = channel.rejects(entry)
    if reason:
        return Decision(entry, reason)
    duration = entry.duration_s
    if channel.probe and duration is None:
        if not budget.take():
            return Decision(entry, "probe budget of this tick used up", deferred=True)
        try:
            found = probe(entry.url)
        except TransientMediaError as error:
            return Decision(entry, f"metadata lookup failed, will retry: {error}", deferred=True)
        except MediaError as error:
            return Decision(entry, f"not usable: {error}")
        if found.live_status in LIVE_NOT_DOWNLOADABLE:
            return Decision(
                entry, f"live stream or premiere not over yet ({found.live_status})", deferred=True
            )
        duration = found.duration_s
    reason = channel.rejects_duration(duration)
    if reason:
        return Decision(entry, reason)
    return Upload(channel, entry, duration)


def judge_feed(
    channel: WatchedChannel,
    state: ChannelState,
    response: Response,
    probe: ProbeUrl,
    budget: ProbeBudget,
) -> ChannelPoll:
    """Decide the new entries of a fetched feed; the returned state is the channel's next cursor state."""
    if response.status == 304:
        return ChannelPoll(channel, replace(state, failures=0, last_error=None), not_modified=True)
    try:
        feed = parse_feed(response.body)
    except FeedError as error:
        return failed_poll(channel, state, f"unreadable feed: {error}")
    poll = ChannelPoll(channel, state)
    seen = set(state.seen)
    decided: list[str] = []
    for entry in reversed(feed.entries):  # oldest first, so runs are requested in upload order
        if entry.entry_id in seen or entry.entry_id in decided:
            continue
        outcome = _judge(channel, entry, probe, budget)
        if isinstance(outcome, Upload):
            poll.accepted.append(outcome)
        elif outcome.deferred:
            poll.deferred.append(outcome)
            continue
        else:
            poll.skipped.append(outcome)
        decided.append(entry.entry_id)
    # With entries deferred, keep no validator: the next tick must read the feed again to revisit them.
    validators = (
        (response.headers.get("ETag"), response.headers.get("Last-Modified"))
        if not poll.deferred
        else (None, None)
    )
    poll.state = ChannelState(
        etag=validators[0],
        last_modified=validators[1],
        seen=_remember(state, decided, len(feed.entries)),
    )
    return poll


def failed_poll(channel: WatchedChannel, state: ChannelState, error: str) -> ChannelPoll:
    return ChannelPoll(
        channel, replace(state, failures=state.failures + 1, last_error=error[:500]), error=error
    )


def poll_channels(
    channels: Sequence[WatchedChannel],
    states: Mapping[str, ChannelState],
    *,
    fetch: FetchFeed,
    probe: ProbeUrl,
    max_probes: int,
    max_parallel_fetches: int = 8,
) -> list[ChannelPoll]:
    """Poll every channel: feeds fetched in parallel, entries judged in order. One channel's error stays its own."""

    def fetch_one(channel: WatchedChannel) -> Response | NetworkError:
        try:
            return fetch(
                channel.resolved_feed_url, states.get(channel.name, ChannelState()).conditional_headers()
            )
        except NetworkError as error:
            return error

    with ThreadPoolExecutor(max_workers=max(1, min(max_parallel_fetches, len(channels)))) as pool:
        responses = list(pool.map(fetch_one, channels))
    budget = ProbeBudget(max_probes)
    polls = []
    for channel, response in zip(channels, responses, strict=True):
        state = states.get(channel.name, ChannelState())
        if isinstance(response, NetworkError):
            polls.append(
                failed_poll(channel, state, f"feed {channel.resolved_feed_url} unreachable: {response}")
            )
        else:
            polls.append(judge_feed(channel, state, response, probe, budget))
    return polls


def poll_summary(polls: Sequence[ChannelPoll]) -> dict[str, Any]:
    """Counts per channel, for logs and metadata."""
    return {
        p.channel.name: {
            "ok": p.error is None,
            "new": len(p.accepted),
            "skipped": len(p.skipped),
            "deferred": len(p.deferred),
            **({"error": p.error} if p.error else {}),
            **({"not_modified": True} if p.not_modified else {}),
        }
        for p in polls
    }
