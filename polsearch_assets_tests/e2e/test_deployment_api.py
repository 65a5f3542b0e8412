"""A real deployment: ``dagster dev`` (webserver + daemon) on 127.0.0.1, driven through GraphQL by the client and CLI.

The deployment watches a channel served by a local feed server and notifies a local
webhook receiver, so the uploads sensor, the run queue, automation and notifications
all run for real beside the API. Every process is stopped by PID when the module ends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml

from polsearch_assets.client import (
    HEARING_ASSETS,
    DagsterApi,
    DagsterApiError,
    DagsterUnauthorized,
    DagsterUnreachable,
    UnknownHearing,
)
from polsearch_assets.core.notify.webhooks import SIGNATURE_HEADER, verify_signature
from polsearch_assets.core.sources.registry import resolve_source
from polsearch_assets.core.uploads.history import list_past_uploads
from polsearch_assets_tests.fixtures.archive import dagster_stale
from polsearch_assets_tests.fixtures.feed_server import FeedServer, Video, serve_feeds
from polsearch_assets_tests.fixtures.local_http import serving
from polsearch_assets_tests.fixtures.media import MediaServer, serve_media
from polsearch_assets_tests.fixtures.processes import REPO, dagster_dev
from polsearch_assets_tests.integration.test_webhooks import Receiver, receiver

SECRET = "whsec-deployment-test"
TIMEOUT_S = 240


@dataclass
class Deployment:
    url: str
    api: DagsterApi
    env: dict[str, str]
    media: MediaServer
    watched: FeedServer  # the channel the uploads sensor polls
    archive: FeedServer  # a channel's history, for `polsearch plan`
    hooks: Receiver

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "polsearch"), *args, "--url", self.url],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )


@pytest.fixture(scope="module")
def receiver_module() -> Iterator[Receiver]:
    yield from receiver.__wrapped__()  # the same receiver as test_webhooks, for the whole module


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, media_files: dict[str, Path], receiver_module: Receiver
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("deployment")
    with (
        serve_media(media_files) as media,
        serve_feeds(media=media_files["sample.wav"]) as watched,
        serve_feeds(media=media_files["silent.wav"]) as archive,
    ):
        watched.channels["oversight"] = [
            Video("ovs1", "Hearing on Bridge Safety", "2026-11-20T15:00:00+00:00", duration_s=98)
        ]
        archive.channels["history"] = [
            Video("his4", "Hearing on Ports", "2026-10-30T10:00:00+00:00", duration_s=12),
            Video("his3", "Hearing on Rail", "2026-10-20T10:00:00+00:00", duration_s=12, dated_in_rss=False),
            Video("his2", "Hearing on Water", "2026-10-10T10:00:00+00:00", duration_s=12),
            Video("his1", "Hearing on Roads", "2026-09-01T10:00:00+00:00", duration_s=12),
        ]
        channels = root / "channels.yaml"
        channels.write_text(
            yaml.safe_dump(
                {
                    "channels": [
                        {
                            "name": "oversight",
                            "feed_url": watched.feed_url("oversight"),
                            "committee": "Oversight",
                        }
                    ]
                }
            )
        )
        env = {
            key: value for key, value in os.environ.items() if not key.startswith(("POLSEARCH_", "DAGSTER_"))
        } | {
            "POLSEARCH_HOME": str(root),
            "POLSEARCH_CHANNELS_FILE": str(channels),
            "POLSEARCH_UPLOADS_INTERVAL_S": "5",
            "POLSEARCH_WEBHOOK_URLS": receiver_module.url,
            "POLSEARCH_WEBHOOK_SECRET": SECRET,
            # A timed-out query is never asked again; a busy test machine gets more than the CLI's 30 s.
            "POLSEARCH_DAGSTER_TIMEOUT_S": "120",
        }
        with dagster_dev(root / "dagster_home", env) as url:
            api = DagsterApi(url=url, timeout_s=120)
            yield Deployment(url, api, env, media, watched, archive, receiver_module)


def wait_until(condition, what: str, timeout_s: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def events(hooks: Receiver, event_type: str, key: str) -> list[dict]:
    found = [json.loads(r.body) for r in hooks.accepted()]
    return [e for e in found if e["type"] == event_type and e["hearing"] == key]


def test_a_new_upload_flows_from_the_sensor_to_the_index_and_a_webhook(deployment: Deployment) -> None:
    key = resolve_source(deployment.watched.watch_url("ovs1")).key
    (indexed,) = wait_until(
        lambda: events(deployment.hooks, "hearing.indexed", key), "the sensor's hearing indexed"
    )
    assert indexed["title"] == "Hearing on Bridge Safety" and indexed["counts"]["index_rows"] > 0
    (delivery,) = [r for r in deployment.hooks.accepted() if json.loads(r.body)["id"] == indexed["id"]]
    assert verify_signature(SECRET, delivery.headers[SIGNATURE_HEADER], delivery.body)
    status = deployment.api.status(key)
    assert {a.state for a in status.assets.values()} == {"materialized"}
    assert status.last_run.tags["polsearch/trigger"] == "youtube_uploads"


def test_submit_wait_and_status(deployment: Deployment) -> None:
    url = deployment.media.url("sample.mp3")
    submitted = deployment.cli(
        "submit", url, "--title", "Bridge safety (mp3)", "--committee", "T&I", "--wait"
    )
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    lines = submitted.stdout.splitlines()
    key = resolve_source(url).key
    assert lines[0] == f"hearing {key} (registered)" and lines[1].startswith("run ")
    assert "[raw_audio] succeeded" in submitted.stdout and "[hearing_index] succeeded" in submitted.stdout
    assert lines[-1].endswith(": SUCCESS")

    status = json.loads(deployment.cli("status", key, "--json").stdout)
    assert list(status["assets"]) == list(HEARING_ASSETS)
    assert {a["state"] for a in status["assets"].values()} == {"materialized"}
    assert status["last_run"]["status"] == "SUCCESS" and status["error"] is None
    # The staleness status decides from a real run's provenance is Dagster's (none, right after the run).
    dagster = dagster_stale(deployment.api, [key])
    assert {name: a["stale"] for name, a in status["assets"].items()} == {
        name: key in dagster[name] for name in HEARING_ASSETS
    }
    table = deployment.cli("status", key).stdout
    assert f"hearing {key}" in table and "hearing_index     materialized" in table

    # The same URL again: no second partition, a second run of the same hearing.
    again = deployment.api.submit(url)
    assert again.key == key and not again.new_partition
    assert deployment.api.hearing_keys().count(key) == 1
    assert deployment.api.wait(again.run_id, timeout_s=TIMEOUT_S).status == "SUCCESS"


def test_a_404_fails_with_the_cause_then_retry_succeeds(deployment: Deployment, media_files) -> None:
    url = deployment.media.url("late.wav")
    failed = deployment.cli("submit", url, "--wait")
    key = resolve_source(url).key
    assert failed.returncode == 1
    assert "[raw_audio] FAILED" in failed.stdout and "HTTP 404" in failed.stderr
    status = deployment.api.status(key)
    assert status.assets["raw_audio"].state == "failed" and status.assets["hearing_index"].state == "skipped"
    assert status.error.startswith(f"raw_audio: hearing {key}: HTTP 404 from the source")
    (notice,) = wait_until(
        lambda: events(deployment.hooks, "hearing.failed", key), "the hearing.failed webhook"
    )
    assert notice["error"] == status.error

    deployment.media.files["late.wav"] = media_files["silent.wav"]  # the source is fixed
    retried = deployment.cli("retry", key, "--wait")
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert "(re-execution from failure)" in retried.stdout
    assert {a.state for a in deployment.api.status(key).assets.values()} == {"materialized"}


def test_plan_registers_a_date_range_and_a_backfill_launches_exactly_the_missing(
    deployment: Deployment,
) -> None:
    archive = deployment.archive
    planned = deployment.cli(
        "plan",
        archive.rss_url("history"),
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-25",
        "--committee",
        "Transport",
    )
    assert planned.returncode == 0, planned.stdout + planned.stderr
    expected = sorted(resolve_source(archive.watch_url(v)).key for v in ("his2", "his3"))
    assert "2 hearings registered" in planned.stdout
    assert (
        all(k in planned.stdout for k in expected)
        and resolve_source(archive.watch_url("his4")).key not in planned.stdout
    )
    for key in expected:  # registered, not run
        assert {a.state for a in deployment.api.status(key).assets.values()} == {"missing"}

    dry = deployment.cli("backfill", "--missing", "--dry-run")
    assert [line.split("\t")[0] for line in dry.stdout.splitlines()[:-1]] == expected, dry.stdout
    launched = deployment.cli("backfill", "--missing")
    assert launched.returncode == 0, launched.stderr
    backfill_id = launched.stdout.splitlines()[-1].split()[1].rstrip(":")
    backfill = deployment.api.backfill(backfill_id)
    assert sorted(backfill["partitionNames"]) == expected

    def finished() -> bool:
        runs = deployment.api.backfill(backfill_id)["runs"]
        return len(runs) == len(expected) and all(r["status"] == "SUCCESS" for r in runs)

    wait_until(finished, "the backfill's runs")
    for key in expected:
        status = deployment.api.status(key)
        assert {a.state for a in status.assets.values()} == {"materialized"}
    assert deployment.cli("backfill", "--missing").stdout.startswith("no missing hearings")


def test_plan_looks_up_dates_the_listing_lacks(deployment: Deployment) -> None:
    uploads = list_past_uploads(deployment.archive.rss_url("history"), date(2026, 10, 15), date(2026, 10, 25))
    assert [(u.title, u.published) for u in uploads] == [("Hearing on Rail", date(2026, 10, 20))]


def test_api_errors_are_clear_exceptions(deployment: Deployment) -> None:
    api = deployment.api
    with pytest.raises(UnknownHearing, match="no hearing yt-AAAAAAAAAAA"):
        api.status("yt-AAAAAAAAAAA")
    with pytest.raises(
        DagsterApiError, match=r"RunConfigValidationInvalid: .*Received unexpected config entry"
    ):
        api.launch_run("hearing_pipeline", tags={"dagster/partition": "x"}, run_config={"ops": {"nope": {}}})
    with pytest.raises(DagsterApiError, match="PipelineNotFoundError"):
        api.launch_run("no_such_job")
    with pytest.raises(DagsterApiError, match="nothing to retry"):
        api.retry(resolve_source(deployment.watched.watch_url("ovs1")).key)
    with pytest.raises(DagsterApiError, match="Cannot query field"):
        api.graphql("{ noSuchField }")
    with pytest.raises(DagsterUnreachable, match="cannot reach the Dagster webserver"):
        DagsterApi(url="http://127.0.0.1:9").hearing_keys()
    unknown = deployment.cli("status", "yt-AAAAAAAAAAA")
    assert unknown.returncode == 2 and "no hearing yt-AAAAAAAAAAA" in unknown.stderr


def test_an_authenticating_proxy_is_reported_as_unauthorized() -> None:
    from http.server import BaseHTTPRequestHandler

    seen: list[str | None] = []

    class Proxy(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.headers.get("Authorization"))
            self.send_response(401)
            self.send_header("WWW-Authenticate", "Bearer")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with serving(Proxy) as url:
        with pytest.raises(DagsterUnauthorized, match=r"HTTP 401.*POLSEARCH_DAGSTER_TOKEN"):
            DagsterApi(url=url, headers={"Authorization": "Bearer wrong"}).hearing_keys()
        result = subprocess.run(
            [str(Path(sys.executable).parent / "polsearch"), "status", "x", "--url", url],
            env={**os.environ, "POLSEARCH_DAGSTER_TOKEN": "t0ken"},
            capture_output=True,
            text=True,
            check=False,
        )
    assert result.returncode == 2 and "refused the request (HTTP 401)" in result.stderr
    assert seen == ["Bearer wrong", "Bearer t0ken"]


def test_a_local_ingest_on_the_deployments_instance_is_notified(deployment: Deployment, media_files) -> None:
    """``polsearch ingest`` runs in its own process, outside the code location; the daemon's sensors see it."""
    env = deployment.env | {"DAGSTER_HOME": deployment.env["POLSEARCH_HOME"] + "/dagster_home"}
    ingested = subprocess.run(
        [str(Path(sys.executable).parent / "polsearch"), "ingest", str(media_files["silent.wav"])],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert ingested.returncode == 0, ingested.stdout + ingested.stderr
    key = ingested.stdout.strip().splitlines()[-1]
    (indexed,) = wait_until(lambda: events(deployment.hooks, "hearing.indexed", key), "the ingest's webhook")
    assert indexed["run_id"] in ingested.stdout


def test_one_run_per_hearing_at_a_time(deployment: Deployment) -> None:
    url = deployment.media.url("silent.wav")
    first = deployment.api.submit(url)
    again = deployment.api.submit(url)  # while the first is queued or running: no second run
    assert again.already_running and again.run_id == first.run_id and again.key == first.key
    # A run launched past that check (the UI's Materialize, a backfill) waits in the queue for the first.
    second = deployment.api.launch_run("hearing_pipeline", tags={"dagster/partition": first.key})
    done = [deployment.api.wait(run_id, timeout_s=TIMEOUT_S) for run_id in (first.run_id, second)]
    assert [run.status for run in done] == ["SUCCESS", "SUCCESS"]
    assert done[1].started is not None and done[0].ended is not None and done[1].started >= done[0].ended


def test_naming_a_speaker_remotely_and_automation_renames_every_hearing(deployment: Deployment) -> None:
    key = resolve_source(deployment.watched.watch_url("ovs1")).key
    wait_until(lambda: events(deployment.hooks, "hearing.indexed", key), "the sensor's hearing indexed")
    shown = json.loads(deployment.cli("speakers", "show", key, "--json").stdout)
    assert {s["speaker"] for s in shown} >= {"SPEAKER_0", "SPEAKER_1"} and all(
        s["person"] is None for s in shown
    )
    # "I now recognize the ranking member for her questions.": a suggestion for whoever spoke next.
    assert any("ranking member" in s["suggestions"] for s in shown)

    named = deployment.cli("speakers", "name", key, "SPEAKER_1", "Rep. Ada Example", "--person-id", "E000001")
    assert named.returncode == 0, named.stdout + named.stderr
    assert "[change_speaker_library] succeeded" in named.stdout
    listing = json.loads(deployment.cli("speakers", "list", "--json").stdout)
    assert [(p["person"], p["person_id"], p["hearings"]) for p in listing] == [
        ("Rep. Ada Example", "E000001", [key])
    ]

    def renamed() -> dict | None:  # the daemon's automation re-runs speaker_names, then the index rows
        found = {
            s["speaker"]: s for s in json.loads(deployment.cli("speakers", "show", key, "--json").stdout)
        }
        return found if found["SPEAKER_1"]["person"] == "Rep. Ada Example" else None

    speaker = wait_until(renamed, "automation naming the hearing's speaker")["SPEAKER_1"]
    assert speaker["similarity"] == pytest.approx(1.0, abs=1e-3) and speaker["speaking_ms"] > 0
    # Only automation can have done it: a remote `speakers name` runs the library job and nothing else.
    # SPEAKER_1 asks "How many inspections did your agency complete last year?"
    hits = wait_until(
        lambda: json.loads(
            subprocess.run(
                [str(Path(sys.executable).parent / "polsearch"), "search", "inspections last year", "--speaker", "ada", "--json"],
                env=deployment.env, cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_S, check=True,
            ).stdout
        ),
        "the index rows carrying the name",
    )  # fmt: skip
    assert {h["speaker_name"] for h in hits} == {"Rep. Ada Example"} and {h["speaker"] for h in hits} == {
        "SPEAKER_1"
    }

    forgotten = deployment.cli("speakers", "forget", "E000001")
    assert forgotten.returncode == 0, forgotten.stdout + forgotten.stderr
    assert json.loads(deployment.cli("speakers", "list", "--json").stdout) == []
    unknown = deployment.cli("speakers", "name", "yt-AAAAAAAAAAA", "SPEAKER_0", "Nobody")
    assert unknown.returncode == 2 and "no hearing yt-AAAAAAAAAAA" in unknown.stderr
