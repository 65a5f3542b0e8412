"""Signed webhook delivery to a real HTTP receiver on 127.0.0.1, and the run status sensors that send them."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import dagster as dg
import pytest

from polsearch_assets.config import Settings
from polsearch_assets.core.net import PermanentNetworkError
from polsearch_assets.core.notify.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    HearingEvent,
    deliver,
    sign,
    verify_signature,
)
from polsearch_assets.defs.notifications.resources import WebhookNotifier
from polsearch_assets.defs.notifications.sensors import notification_sensors
from polsearch_assets_tests.fixtures.hearing import hearing_resources, run_hearing
from polsearch_assets_tests.fixtures.local_http import serving
from polsearch_assets_tests.fixtures.media import MediaServer

pytestmark = pytest.mark.slow  # real models, processes or servers: seconds per test

SECRET = "whsec-test-7f3a9c"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    url: str = ""
    answers: list[int] = field(default_factory=list)  # statuses to answer in turn; then 200
    received: list[Received] = field(default_factory=list)

    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.answered == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = state.answers.pop(0) if state.answers else 200
            state.received.append(Received(dict(self.headers.items()), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as base_url:
        state.url = f"{base_url}/hooks/polsearch?token=abc"
        yield state


def event(**changes: object) -> HearingEvent:
    values = {
        "type": "hearing.indexed",
        "hearing": "yt-abcDEF12345",
        "title": "Oversight Hearing",
        "run_id": "run-1",
        "occurred_at": "2026-11-24T10:00:00+00:00",
        "counts": {"index_rows": 42},
    }
    return HearingEvent(**{**values, **changes})


def test_a_503_then_200_delivers_once_and_the_signature_verifies(receiver: Receiver) -> None:
    receiver.answers = [503]
    waits: list[float] = []
    delivery = deliver(receiver.url, event(), SECRET, sleep=waits.append)
    assert delivery.attempts == 2 and delivery.status == 200 and len(waits) == 1 and 0.75 <= waits[0] <= 1.25
    assert [r.answered for r in receiver.received] == [503, 200]
    (accepted,) = receiver.accepted()
    headers = accepted.headers
    assert headers["Content-Type"] == "application/json" and headers[EVENT_HEADER] == "hearing.indexed"
    assert receiver.received[0].headers[DELIVERY_HEADER] == headers[DELIVERY_HEADER]  # one event, retried
    assert verify_signature(SECRET, headers[SIGNATURE_HEADER], accepted.body)
    assert not verify_signature("a-wrong-secret", headers[SIGNATURE_HEADER], accepted.body)
    assert not verify_signature(SECRET, headers[SIGNATURE_HEADER], accepted.body.replace(b"42", b"43"))
    payload = json.loads(accepted.body)
    assert payload["type"] == "hearing.indexed" and payload["hearing"] == "yt-abcDEF12345"
    assert payload["counts"] == {"index_rows": 42} and payload["id"] == headers[DELIVERY_HEADER]
    assert delivery.url == f"{receiver.url.split('/hooks')[0]}/..."  # the token in the path is never reported


def test_client_errors_are_final(receiver: Receiver) -> None:
    receiver.answers = [400]
    with pytest.raises(PermanentNetworkError, match="HTTP 400"):
        deliver(receiver.url, event(), SECRET, sleep=lambda s: None)
    assert len(receiver.received) == 1


def test_signatures_expire_and_need_a_secret() -> None:
    body = event().body()
    old = int(time.time()) - 3600
    assert not verify_signature(SECRET, sign(SECRET, old, body), body)
    assert verify_signature(SECRET, sign(SECRET, old, body), body, now=old + 10)
    assert not verify_signature(SECRET, "v1=deadbeef", body)
    with pytest.raises(ValueError, match="secret is empty"):
        sign("", old, body)
    with pytest.raises(ValueError, match="unknown event type"):
        event(type="hearing.exploded")


SENSORS = {sensor.name: sensor for sensor in notification_sensors(Settings())}


def _run_status_context(instance, result, resources, failure: bool):
    run = instance.get_run_by_id(result.run_id)
    job_event = result.get_run_failure_event() if failure else result.get_run_success_event()
    context = dg.build_run_status_sensor_context(
        sensor_name="notify_hearing_failed" if failure else "notify_hearing_indexed",
        dagster_event=job_event,
        dagster_instance=instance,
        dagster_run=run,
        resources=resources,
    )
    return context.for_run_failure() if failure else context


def test_sensors_send_indexed_and_failed_events(
    receiver: Receiver,
    media_server: MediaServer,
    media_files,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    resources = hearing_resources(tmp_path)
    notifier = WebhookNotifier(urls=receiver.url, secret=SECRET)
    sensor_resources = {"webhooks": notifier, "artifact_store": resources["artifact_store"]}
    caplog.set_level(logging.DEBUG)
    with dg.instance_for_test() as instance:
        indexed_key, indexed = run_hearing(instance, resources, media_files["silent.wav"])
        assert indexed.success
        SENSORS["notify_hearing_indexed"](
            _run_status_context(instance, indexed, sensor_resources, failure=False)
        )

        media_server.fail_first["flaky-sample.wav"] = 100  # 503 until the step's retries run out
        failed_key, failed = run_hearing(instance, resources, media_server.url("flaky-sample.wav"))
        assert not failed.success
        SENSORS["notify_hearing_failed"](
            _run_status_context(instance, failed, sensor_resources, failure=True)
        )

    indexed_event, failed_event = (json.loads(r.body) for r in receiver.accepted())
    assert indexed_event["type"] == "hearing.indexed" and indexed_event["hearing"] == indexed_key
    assert indexed_event["counts"]["index_rows"] == 0 and indexed_event["counts"][
        "duration_s"
    ] == pytest.approx(12.0)
    assert indexed_event["error"] is None and indexed_event["run_id"] == indexed.run_id
    assert failed_event["type"] == "hearing.failed" and failed_event["hearing"] == failed_key
    # The cause, not Dagster's "Exceeded max_retries of 3"
    assert failed_event["error"].startswith(f"raw_audio: hearing {failed_key}: HTTP 503 from the source")
    assert failed_event["error"].endswith("(after 3 retries)")
    for received in receiver.accepted():
        assert verify_signature(SECRET, received.headers[SIGNATURE_HEADER], received.body)
    # Sensor logs go to Dagster's console logger (stderr here); neither they nor Python logging show secrets.
    printed = "".join(capfd.readouterr())
    assert "hearing.failed for " + failed_key + " delivered to http://127.0.0.1" in printed
    for text in (printed, caplog.text):
        assert SECRET not in text and "token=abc" not in text


def test_one_dead_receiver_does_not_stop_the_others(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = WebhookNotifier(
        urls=f"http://127.0.0.1:9/unreachable,{receiver.url}", secret=SECRET, attempts=2
    )
    deliveries = notifier.send(event(), logging.getLogger("test"))
    assert len(deliveries) == 1 and len(receiver.accepted()) == 1
    assert "not delivered to http://127.0.0.1:9/..." in caplog.text


def test_the_webhook_urls_and_secret_never_show_in_the_ui(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhook URLs often carry a token: like the secret, the UI and GraphQL show the variable, not the value."""
    from dagster._core.remote_representation.external_data import RepositorySnap

    from polsearch_assets.definitions import build_definitions

    env = {
        "POLSEARCH_WEBHOOK_URLS": "https://hooks.example/T0KEN-123,https://b.example/?k=S3CRET",
        "POLSEARCH_WEBHOOK_SECRET": SECRET,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    location = build_definitions(Settings.from_env(env))
    (webhooks,) = [
        r for r in RepositorySnap.from_def(location.get_repository_def()).resources if r.name == "webhooks"
    ]
    shown = repr(webhooks.configured_values)
    assert "T0KEN" not in shown and "S3CRET" not in shown and SECRET not in shown
    assert "POLSEARCH_WEBHOOK_URLS" in shown and "POLSEARCH_WEBHOOK_SECRET" in shown
    with dg.build_resources({"webhooks": location.resources["webhooks"]}) as resolved:  # as a run sees it
        assert resolved.webhooks.url_list() == env["POLSEARCH_WEBHOOK_URLS"].split(",")
