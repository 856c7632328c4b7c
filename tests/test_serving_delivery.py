"""Alerts that arrive: the real senders, a real HTTP receiver and SMTP server on 127.0.0.1, the background
workers running on the system clock."""

from __future__ import annotations

import socket
import time

import pytest
import yaml
from fastapi.testclient import TestClient

from pvoice.model.predictor import Classifier
from pvoice.serving import create_app
from serving_support import Harness, ScriptedClassifier, WebhookReceiver, make_settings, write_routing

URGENT = "护士给我妈输错了液，到现在没人给个说法！"
ESCALATION = "再不给我退费我就打12345投诉你们"


@pytest.fixture(scope="module")
def scripted(tiny_model_dir):
    return ScriptedClassifier(Classifier.from_pretrained(tiny_model_dir))


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.close()


def _settings(tmp_path, model_dir, receiver, **overrides):
    if "routing_path" not in overrides:
        overrides["routing_path"] = write_routing(tmp_path / "routing.yaml", webhook_url=receiver.url)
    values = dict(case_evidence=False, alert_max_attempts=200, alert_backoff_base_seconds=0.02,
                  alert_backoff_max_seconds=0.1)
    return make_settings(tmp_path, model_dir, **{**values, **overrides})


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def _outbox_keys(harness) -> list[str]:
    return [a["idempotency_key"] for a in harness.get("admin", "/v1/alerts?limit=500").json()["items"]]


def test_a_receiver_down_for_a_while_gets_every_alert_exactly_once(tmp_path, tiny_model_dir, scripted, receiver):
    receiver.down = True
    app = create_app(_settings(tmp_path, tiny_model_dir, receiver), classifier=scripted)
    with TestClient(app) as client:
        svc = Harness(app, client)
        for n in range(3):
            svc.comment(f"{URGENT} 第{n}次")
            svc.comment(f"{ESCALATION} 第{n}次")
        _wait(lambda: svc.get("admin", "/v1/alerts?status=failed").json()["count"] > 0)
        failing = svc.get("admin", "/v1/alerts?status=failed").json()["items"][0]
        assert failing["last_error_code"] == "unavailable", failing["last_error"]
        time.sleep(0.3)  # several retries against the closed door
        receiver.down = False
        _wait(lambda: svc.get("admin", "/v1/alerts?status=delivered").json()["count"] == 6)
        expected = _outbox_keys(svc)
    assert sorted(receiver.keys()) == sorted(expected)
    assert len(receiver.keys()) == len(set(receiver.keys())) == 6


def test_alerts_of_a_server_stopped_while_the_receiver_was_down_arrive_after_restart(
        tmp_path, tiny_model_dir, scripted, receiver):
    receiver.down = True
    settings = _settings(tmp_path, tiny_model_dir, receiver)
    first = create_app(settings, classifier=scripted)
    with TestClient(first) as client:
        svc = Harness(first, client)
        svc.comment(URGENT)
        svc.comment(ESCALATION)
        _wait(lambda: svc.get("admin", "/v1/alerts?status=failed").json()["count"] == 2)
    receiver.down = False
    second = create_app(settings, classifier=scripted)
    with TestClient(second) as client:
        svc = Harness(second, client)
        _wait(lambda: svc.get("admin", "/v1/alerts?status=delivered").json()["count"] == 2)
        expected = _outbox_keys(svc)
    assert sorted(receiver.keys()) == sorted(expected)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_email_alerts_go_through_a_local_smtp_server(tmp_path, tiny_model_dir, scripted, receiver):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            self.messages.append((envelope.rcpt_tos, envelope.content))
            return "250 OK"

    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        routing = write_routing(tmp_path / "routing.yaml", webhook_url=receiver.url)
        raw = yaml.safe_load(routing.read_text(encoding="utf-8"))
        raw["people"]["nurse"]["alerts"] = [{"channel": "email", "target": "nurse-duty@hospital.invalid"}]
        routing.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        settings = _settings(tmp_path, tiny_model_dir, receiver, routing_path=routing, smtp_port=port)
        app = create_app(settings, classifier=scripted)
        with TestClient(app) as client:
            svc = Harness(app, client)
            svc.comment(URGENT)
            _wait(lambda: inbox.messages)
        (recipients, content), = inbox.messages
        assert recipients == ["nurse-duty@hospital.invalid"]
        assert b"pv-case1-opened" in content
    finally:
        controller.stop()
