"""Alerts that arrive: the real senders, a real HTTP receiver and SMTP server on 127.0.0.1, the background
workers running on the system clock."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from pvoice.settings import Settings
from pvoice.serving import create_app
from pvoice.serving.alerts import CHANNELS, DeliveryError
from pvoice.serving.db import OutboxAlert
from pvoice.serving.services.outbox import claim
from serving_support import Harness, ManualClock, WebhookReceiver, make_settings, write_routing

URGENT = "护士给我妈输错了液，到现在没人给个说法！"
ESCALATION = "再不给我退费我就打12345投诉你们"


@pytest.fixture
def receiver():
    server = WebhookReceiver()
    yield server
    server.close()


def _settings(tmp_path, model_dir, receiver, **overrides):
    if "routing_path" not in overrides:
        overrides["routing_path"] = write_routing(tmp_path / "routing.yaml", webhook_url=receiver.url)
    values = dict(case_evidence=False, alert_backoff_base_seconds=0.02, alert_backoff_max_seconds=0.1)
    return make_settings(tmp_path, model_dir, **{**values, **overrides})


def _wait(condition, timeout: float = 30.0) -> None:  # generous: a loaded CI machine retries slowly
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


# ---- retry window, escalation of undeliverable urgent alerts, dead letters (a clock the test moves) ------------
PRAISE = "李医生讲得很耐心，谢谢！"


class TargetSender:
    """Records what it delivers; targets ending in a name of `down` fail retryably, of `rejected` for good."""

    def __init__(self, channel: str):
        self.channel, self.delivered = channel, []
        self.down: set[str] = set()
        self.rejected: set[str] = set()

    def send(self, messages: list) -> None:
        name = messages[0].target.rsplit("/", 1)[1]
        if name in self.rejected:
            raise DeliveryError(f"{name}: rejected", code="rejected", retryable=False)
        if name in self.down or "*" in self.down:
            raise DeliveryError(f"{name}: receiver down", code="connection", retryable=True)
        self.delivered += messages


@pytest.fixture
def moved(tmp_path, tiny_model_dir, scripted):
    """An app on a clock the test moves, with the default backoff and window, driven step by step."""
    senders = {c: TargetSender(c) for c in CHANNELS}
    defaults = Settings(_env_file=None)
    settings = make_settings(tmp_path, tiny_model_dir, case_evidence=False,
                             alert_backoff_base_seconds=defaults.alert_backoff_base_seconds,
                             alert_backoff_max_seconds=defaults.alert_backoff_max_seconds)
    app = create_app(settings, clock=ManualClock(), senders=senders, classifier=scripted, start_workers=False)
    with TestClient(app) as client:
        harness = Harness(app, client)
        harness.webhook = senders["webhook"]
        yield harness


def _rows(svc) -> list[OutboxAlert]:
    with svc.ctx.factory() as session:
        return list(session.scalars(select(OutboxAlert).order_by(OutboxAlert.id)))


def _run(svc, *, seconds: float, step: float) -> None:
    """Deliver every `step` seconds of the moved clock for `seconds`."""
    for _ in range(int(seconds / step)):
        svc.deliver()
        svc.ctx.clock.advance(seconds=step)


def _timeline(svc, case_id: int) -> list[dict]:
    return svc.get("agent", f"/v1/cases/{case_id}").json()["timeline"]


def test_five_minutes_down_loses_no_alert(moved):
    # issue 11: 308 s down gave 66 of 101 alerts dead after 8 attempts, 142-295 s after they were written
    moved.webhook.down = {"*"}
    for n in range(12):
        moved.comment(f"{URGENT if n % 2 else ESCALATION} 第{n}次")
    _run(moved, seconds=310, step=5)
    assert {r.status for r in _rows(moved)} == {"failed"} and min(r.attempts for r in _rows(moved)) >= 8
    moved.webhook.down = set()
    _run(moved, seconds=15 * 60, step=10)
    rows = _rows(moved)
    assert [r.status for r in rows] == ["delivered"] * 12
    keys = [m.idempotency_key for m in moved.webhook.delivered]
    assert sorted(keys) == sorted(r.idempotency_key for r in rows) and len(set(keys)) == 12
    # the first alert a target takes again brings its others forward: they do not wait out their backoff
    for recipient in {r.recipient for r in rows}:
        times = [r.delivered_at for r in rows if r.recipient == recipient]
        assert max(times) - min(times) <= timedelta(seconds=10)


def test_an_alert_is_retried_for_the_whole_window_then_pages_the_admin_once(moved, caplog):
    moved.webhook.down = {"dr-li"}
    moved.comment(PRAISE)
    (praise,) = _rows(moved)
    start = moved.ctx.clock.now()
    while moved.ctx.clock.now() < start + timedelta(hours=23, minutes=50):
        moved.deliver()
        (row,) = _rows(moved)
        assert row.status == "failed"
        assert row.next_attempt_at - moved.ctx.clock.now() <= timedelta(seconds=600)  # backoff capped
        moved.ctx.clock.set(max(row.next_attempt_at, moved.ctx.clock.now()))
    moved.ctx.clock.set(start + timedelta(hours=24))
    moved.deliver()  # the last try, on the deadline itself
    dead, page = _rows(moved)
    assert dead.status == "dead" and dead.id == praise.id and dead.attempts > 100
    assert (page.event, page.recipient, page.status) == ("dead_letter", "psc", "pending")  # fallback = admin
    assert str(dead.id) in page.body_markdown and f"/v1/alerts/{dead.id}/retry" in page.body_markdown

    # the admin's own page dies too: logged, never a page about a page
    moved.webhook.down = {"*"}
    with caplog.at_level("ERROR", logger="pvoice.delivery"):
        _run(moved, seconds=24.2 * 3600, step=600)
    assert [(r.event, r.status) for r in _rows(moved)] == [("praise", "dead"), ("dead_letter", "dead")]
    assert "dead-letter page could not be delivered" in caplog.text

    # an admin's retry opens a new window: the next failure is a failure, not a death
    assert moved.post("admin", f"/v1/alerts/{dead.id}/retry").status_code == 200
    moved.deliver()
    assert _rows(moved)[0].status == "failed"


def test_a_permanent_error_is_dead_at_once_and_pages_the_admin_named_in_routing(tmp_path, tiny_model_dir,
                                                                                scripted):
    routing = write_routing(tmp_path / "routing.yaml", admin=["yiwu"])
    senders = {c: TargetSender(c) for c in CHANNELS}
    senders["webhook"].rejected = {"dr-li"}
    app = create_app(make_settings(tmp_path, tiny_model_dir, routing_path=routing), clock=ManualClock(),
                     senders=senders, classifier=scripted, start_workers=False)
    with TestClient(app) as client:
        svc = Harness(app, client)
        svc.comment(PRAISE)
        svc.deliver()
        dead, page = _rows(svc)
        assert (dead.status, dead.attempts, dead.last_error_code) == ("dead", 1, "rejected")
        assert (page.event, page.recipient) == ("dead_letter", "yiwu")
        svc.deliver()
        assert [m.target.rsplit("/", 1)[1] for m in senders["webhook"].delivered] == ["yiwu"]


def test_an_urgent_alert_rejected_by_its_target_escalates_at_once(moved):
    moved.webhook.rejected = {"nurse"}
    case_id = moved.comment(URGENT)["case"]["id"]
    moved.deliver()  # the nurse's robot refuses it: the level cannot acknowledge what it never gets
    timeline = _timeline(moved, case_id)
    assert [e["kind"] for e in timeline] == ["opened", "alerted", "alert_undeliverable", "escalated", "alert_dead"]
    assert timeline[3]["detail"]["level"] == 1 and timeline[3]["detail"]["reason"] == "alert_undeliverable"
    moved.deliver()
    assert sorted(m.target.rsplit("/", 1)[1] for m in moved.webhook.delivered) == ["nurse-head", "psc"]
    head = next(m for m in moved.webhook.delivered if m.target.endswith("/nurse-head"))
    assert "无法在时限内送达（rejected）" in head.body_markdown
    # the first level's timer would escalate again at 30 minutes: the head has 30 minutes of its own instead
    moved.ctx.clock.advance(minutes=29)
    assert moved.fire() == 0
    moved.ctx.clock.advance(minutes=2)
    assert moved.fire() == 1
    case = moved.get("agent", f"/v1/cases/{case_id}").json()
    assert case["escalation_level"] == 2 and case["assignee"] == "yiwu"
    levels = [e["detail"]["level"] for e in _timeline(moved, case_id) if e["kind"] == "escalated"]
    assert levels == [1, 2]


def test_an_urgent_alert_that_cannot_arrive_within_the_sla_goes_to_the_next_level_once(moved):
    moved.webhook.down = {"nurse"}
    case_id = moved.comment(URGENT)["case"]["id"]
    created = moved.ctx.clock.now()
    due = created + timedelta(minutes=moved.ctx.settings.sla_urgent_ack_minutes)
    escalated_at, end = None, due + timedelta(minutes=20)
    while moved.ctx.clock.now() < end:
        moved.deliver()
        kinds = [e["kind"] for e in _timeline(moved, case_id)]
        if "escalated" in kinds and escalated_at is None:
            escalated_at = moved.ctx.clock.now()
        moved.fire()
        nurse = next(r for r in _rows(moved) if r.recipient == "nurse")
        moved.ctx.clock.set(min(max(nurse.next_attempt_at, moved.ctx.clock.now() + timedelta(seconds=1)), end))
    assert escalated_at is not None and escalated_at < due  # before the 30-minute timer would have
    kinds = [e["kind"] for e in _timeline(moved, case_id)]
    assert kinds == ["opened", "alerted", "alert_undeliverable", "escalated"]  # once, though it keeps failing
    nurse = next(r for r in _rows(moved) if r.recipient == "nurse")
    assert nurse.status == "failed" and nurse.escalated_at == escalated_at and nurse.attempts > 8
    assert [m.target.rsplit("/", 1)[1] for m in moved.webhook.delivered] == ["nurse-head"]


def test_a_claim_takes_a_targets_due_alerts_together_and_none_while_one_is_in_flight(moved):
    for n in range(3):
        moved.comment(f"{URGENT} 第{n}次")
    now = moved.ctx.clock.now()
    _, batch = claim(moved.ctx.factory, now=now, lease_seconds=60)
    assert len(batch) == 3  # one lane, one batch: the sender packs them
    moved.comment(ESCALATION)
    moved.comment(f"{URGENT} 又一次")
    _, more = claim(moved.ctx.factory, now=now, lease_seconds=60)
    assert [r.recipient for r in more] == ["cashier"]  # the nurse's target is in flight: its new alert waits
    _, late = claim(moved.ctx.factory, now=now + timedelta(seconds=61), lease_seconds=60)
    assert sorted(r.recipient for r in late) == ["cashier"] + ["nurse"] * 4  # leases ran out: all again
