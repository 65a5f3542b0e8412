"""The API client's own logic: asset states, backfill plans, and its HTTP rules against a local server.

The client against a real Dagster webserver is in test_deployment_api.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from http.server import BaseHTTPRequestHandler
from typing import ClassVar

import pytest

from polsearch_assets.client import (
    GRAPHQL,
    HEARING_ASSETS,
    DagsterApi,
    DagsterApiError,
    asset_state,
    missing_plan,
    stale_plan,
)
from polsearch_assets.client import api as api_module
from polsearch_assets.client.staleness import partition_input_version
from polsearch_assets_tests.fixtures.local_http import serving
from polsearch_assets_tests.fixtures.processes import REPO

DONE = {"runId": "r1", "timestamp": "1700000000000"}


@pytest.mark.parametrize(
    ("materialization", "run", "step", "expected"),
    [
        (DONE, {"runId": "r1", "status": "SUCCESS"}, "SUCCESS", "materialized"),
        (None, {"runId": "r2", "status": "STARTED"}, "IN_PROGRESS", "in_progress"),
        (DONE, {"runId": "r2", "status": "QUEUED"}, None, "in_progress"),
        (None, {"runId": "r2", "status": "FAILURE"}, "FAILURE", "failed"),
        (DONE, {"runId": "r2", "status": "FAILURE"}, "FAILURE", "failed"),  # the newest attempt counts
        (DONE, {"runId": "r2", "status": "FAILURE"}, "SKIPPED", "materialized"),  # an earlier run made it
        (None, {"runId": "r2", "status": "FAILURE"}, "SKIPPED", "skipped"),
        (None, {"runId": "r2", "status": "CANCELED"}, None, "canceled"),
        (None, None, None, "missing"),
    ],
)
def test_asset_state(materialization: dict | None, run: dict | None, step: str | None, expected: str) -> None:
    state = asset_state(materialization, run, step, stale=False)
    assert state.state == expected
    assert state.materialized_at == (1_700_000_000.0 if materialization else None)
    assert not state.stale and asset_state(None, None, None, stale=True).stale


def _statuses(materialized: list[str], failed: list[str] = (), busy: list[str] = ()) -> dict[str, list[str]]:
    return {
        "materializedPartitions": list(materialized),
        "failedPartitions": list(failed),
        "materializingPartitions": list(busy),
    }


def test_missing_plan_takes_incomplete_idle_hearings_whole() -> None:
    statuses = {name: _statuses(["a", "b", "c"]) for name in HEARING_ASSETS}
    statuses["hearing_index"] = _statuses(["a"], failed=["b"])  # b: the index failed; c: never indexed
    statuses["transcript"] = _statuses(["a", "b", "c"], busy=["d"])  # d is running now
    plan = missing_plan(["a", "b", "c", "d", "e"], statuses)
    assert plan == {"b": list(HEARING_ASSETS), "c": list(HEARING_ASSETS), "e": list(HEARING_ASSETS)}


def test_stale_plan_starts_at_the_first_stale_asset() -> None:
    plan = stale_plan(
        ["a", "b", "c"], {"transcript": {"a"}, "aligned_segments": {"a", "b"}, "hearing_index": {"b"}}
    )
    assert plan == {
        "a": [
            "transcript",
            "diarization",
            "aligned_segments",
            "speaker_names",
            "hearing_index",
            "word_archive",
        ],
        "b": ["aligned_segments", "speaker_names", "hearing_index", "word_archive"],
    }


class _JsonHandler(BaseHTTPRequestHandler):
    def reply(self, status: int, document: dict) -> None:
        answer = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


class _Flaky(_JsonHandler):
    """Answers 503 to the first two requests, then a GraphQL answer; counts what it was sent."""

    requests: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        if len(type(self).requests) <= 2:
            self.send_response(503)
            self.end_headers()
            return
        self.reply(200, {"data": {"ok": True}})


def test_queries_are_retried_and_launches_never() -> None:
    _Flaky.requests = []
    with serving(_Flaky) as url:
        api = DagsterApi(url=url)
        assert api.graphql("{ ok }") == {"ok": True}
        assert len(_Flaky.requests) == 3
        _Flaky.requests = []
        with pytest.raises(DagsterApiError, match="HTTP 503"):
            api.graphql("mutation { launchRun }", idempotent=False)
        assert len(_Flaky.requests) == 1  # a retried launch could launch twice


class _Slow(_JsonHandler):
    """Computes longer than the client waits (a question too large for the server); counts the requests."""

    requests: ClassVar[int] = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests += 1
        time.sleep(1.5)
        with contextlib.suppress(OSError):  # the client has gone
            self.reply(200, {"data": {"ok": True}})


def test_a_query_the_server_is_still_computing_is_not_asked_again() -> None:
    """A timed-out query is still running on the webserver: asking again would start the same computation
    beside it (a third time, before), so it fails at once and says so."""
    _Slow.requests = 0
    with serving(_Slow) as url:
        with pytest.raises(DagsterApiError, match=r"did not answer within 0\.5 s.*not asked again"):
            DagsterApi(url=url, timeout_s=0.5).graphql("{ ok }")
        time.sleep(1.0)
        assert _Slow.requests == 1


class _GraphQLError(_JsonHandler):
    def do_POST(self) -> None:
        self.reply(400, {"errors": [{"message": 'Cannot query field "x" on type "Query".'}]})


def test_graphql_errors_carry_the_servers_message() -> None:
    with serving(_GraphQLError) as url, pytest.raises(DagsterApiError, match='Cannot query field "x"'):
        DagsterApi(url=url).graphql("{ x }")


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ({"__typename": "PythonError", "message": "boom"}, "launching x failed: PythonError: boom"),
        (
            {"__typename": "RunConfigValidationInvalid", "errors": [{"message": "a"}, {"message": "b"}]},
            "launching x failed: RunConfigValidationInvalid: a; b",
        ),
        (
            {"__typename": "PartitionKeysNotFoundError", "partitionKeys": ["k"]},
            r"unknown hearings \['k'\]",
        ),
    ],
)
def test_error_members_become_exceptions(result: dict, message: str) -> None:
    with pytest.raises(DagsterApiError, match=message):
        DagsterApi._ok(result, "launching x")
    assert DagsterApi._ok({"__typename": "LaunchRunSuccess"}, "x") == {"__typename": "LaunchRunSuccess"}


def _schema():
    from dagster_graphql.schema import create_schema

    return create_schema().graphql_schema


@pytest.mark.parametrize("name", sorted(GRAPHQL))
def test_documents_are_valid_against_dagsters_schema(name: str) -> None:
    from graphql import parse, validate

    assert validate(_schema(), parse(GRAPHQL[name])) == []


def test_the_documented_graphql_is_valid_against_dagsters_schema() -> None:
    from graphql import parse, validate

    blocks = re.findall(r"```graphql\n(.*?)```", (REPO / "docs" / "graphql.md").read_text(), flags=re.S)
    assert len(blocks) >= 4
    for block in blocks:
        assert validate(_schema(), parse(block)) == [], block


class _SlowOnBigPages(_JsonHandler):
    """A webserver whose materialization answers take longer than the client waits for pages of over 2
    hearings; records each page it was asked about. Odd hearings' transcripts were made by an older model."""

    pages: ClassVar[list[list[str]]] = []
    KEYS: ClassVar[list[str]] = [f"k{i}" for i in range(6)]

    @staticmethod
    def _node(name: str) -> dict:
        deps = {"raw_audio": []}.get(name, ["raw_audio"])
        return {"assetKey": {"path": [name]}, "opVersion": f"{name}-v2", "isPartitioned": True,
                "dependencyKeys": [{"path": [d]} for d in deps], "assetMaterializations": []}  # fmt: skip

    @staticmethod
    def _event(name: str, key: str) -> dict:
        old = name == "transcript" and int(key[1:]) % 2
        tags = {"dagster/code_version": f"{name}-v1" if old else f"{name}-v2", "dagster/data_version": key}
        if name != "raw_audio":
            tags |= {
                "dagster/input_data_version/raw_audio": partition_input_version(key),  # as a run records
                "dagster/input_event_pointer/raw_audio": "1",
            }
        return {"partition": key, "timestamp": "1", "tags": [{"key": k, "value": v} for k, v in tags.items()]}

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        query, variables = body["query"], body["variables"]
        names = [k["path"][0] for k in variables.get("assetKeys", [])]
        if "latestMaterializationByPartition" in query:
            if names == ["raw_audio"]:
                type(self).pages.append(variables["keys"])
            if len(variables["keys"]) > 2:
                time.sleep(1.5)
            nodes = [
                {
                    "assetKey": {"path": [n]},
                    "latestMaterializationByPartition": [self._event(n, k) for k in variables["keys"]],
                }
                for n in names
            ]
        elif "opVersion" in query:
            nodes = [self._node(n) for n in names]
        elif "assetPartitionStatuses" in query:
            statuses = {
                "materializedPartitions": self.KEYS,
                "materializingPartitions": [],
                "failedPartitions": [],
            }
            nodes = [{"assetKey": {"path": [n]}, "assetPartitionStatuses": statuses} for n in names]
        else:
            nodes = [{"assetKey": {"path": [n]}, "partitionKeys": self.KEYS} for n in names]
        self.reply(200, {"data": {"assetNodes": nodes}})


def test_a_stale_page_that_times_out_is_asked_again_in_halves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_module, "STALE_PAGE", 4)
    _SlowOnBigPages.pages = []
    asked: list[tuple[int, int]] = []
    with serving(_SlowOnBigPages) as url:
        api = DagsterApi(url=url, timeout_s=0.5)
        api.stale_sensor = None  # the page-by-page path (a deployment without the stale_hearings sensor)
        plan = api.plan_backfill("stale", progress=lambda *p: asked.append(p))
    assert plan.keys == ["k1", "k3", "k5"] and plan.assets_by_key["k1"][0] == "transcript"
    assert [len(page) for page in _SlowOnBigPages.pages] == [4, 2, 2, 2]  # the slow page once, not retried
    assert asked == [(2, 6), (4, 6), (6, 6)]
