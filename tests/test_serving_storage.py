"""Storage-backed behaviour on SQLite and PostgreSQL: migrations, SLA timers on a moved clock, the outbox's
claims, retries and dead letters, and a restart with alerts pending."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from pvoice.serving import create_app
from pvoice.serving.db import OutboxAlert, Timer, is_current, make_db_engine, make_session_factory, upgrade
from pvoice.serving.routing import CHANNELS
from pvoice.serving.services.outbox import claim
from pvoice.serving.services.sla import fire_due_timers
from serving_support import FakeSender, Harness, ManualClock, make_settings

URGENT = "护士给我妈输错了液，到现在没人给个说法！"
COMPLAINT = "挂号等了三个小时，窗口只开了一个"


class Service:
    """Builds apps on one database, so a test can stop one and start another (a restart)."""

    def __init__(self, tmp_path, model_dir, classifier, db_url):
        self.clock = ManualClock()
        self.senders = {c: FakeSender(c) for c in CHANNELS}
        self.settings = make_settings(tmp_path, model_dir, database_url=db_url, alert_retry_window_hours=10 / 60,
                                      alert_backoff_base_seconds=10, alert_backoff_max_seconds=60)
        self.classifier = classifier

    def start(self) -> Harness:
        app = create_app(self.settings, clock=self.clock, senders=self.senders, classifier=self.classifier,
                         start_workers=False)
        client = TestClient(app)
        client.__enter__()
        harness = Harness(app, client)
        harness.senders = self.senders
        harness.stop = lambda: client.__exit__(None, None, None)
        return harness


@pytest.fixture
def service(tmp_path, tiny_model_dir, scripted, db_url):
    return Service(tmp_path, tiny_model_dir, scripted, db_url)


@pytest.fixture
def svc(service):
    harness = service.start()
    yield harness
    harness.stop()


def _events(svc, case_id: int) -> list[str]:
    return [e["kind"] for e in svc.get("agent", f"/v1/cases/{case_id}").json()["timeline"]]


# ---- migrations --------------------------------------------------------------------------------------------
def test_migrations_create_every_table_and_are_idempotent(db_url):
    engine = make_db_engine(db_url)
    assert upgrade(engine) == "0006" and is_current(engine)
    assert upgrade(engine) == "0006"
    tables = set(inspect(engine).get_table_names())
    assert {"comments", "suggestions", "label_responses", "cases", "case_events", "timers", "outbox",
            "audit_log", "api_keys", "rate_windows", "web_sessions", "comment_aspects", "case_reasons",
            "spike_flags", "alembic_version"} <= tables
    engine.dispose()


def test_startup_refuses_an_old_schema_when_not_allowed_to_upgrade(tmp_path, tiny_model_dir, scripted, db_url):
    settings = make_settings(tmp_path, tiny_model_dir, database_url=db_url, db_auto_upgrade=False)
    with pytest.raises(RuntimeError, match="pvoice db upgrade"):
        with TestClient(create_app(settings, classifier=scripted, senders={}, start_workers=False)):
            pass


# ---- SLA ---------------------------------------------------------------------------------------------------
def test_unacknowledged_urgent_case_climbs_to_department_head_then_medical_affairs(svc):
    case_id = svc.comment(URGENT)["case"]["id"]
    svc.ctx.clock.advance(minutes=29)
    assert svc.fire() == 0
    svc.ctx.clock.advance(minutes=2)
    assert svc.fire() == 1
    case = svc.get("agent", f"/v1/cases/{case_id}").json()
    assert case["escalation_level"] == 1 and case["assignee"] == "nurse_head"
    svc.ctx.clock.advance(minutes=31)
    assert svc.fire() == 1
    case = svc.get("agent", f"/v1/cases/{case_id}").json()
    assert case["escalation_level"] == 2 and case["assignee"] == "yiwu"
    svc.ctx.clock.advance(hours=5)
    assert svc.fire() == 0  # 医务部 is the last level: no timer beyond it
    assert _events(svc, case_id) == ["opened", "alerted", "escalated", "escalated"]
    svc.deliver()
    targets = sorted(m.target.rsplit("/", 1)[1] for m in svc.senders["webhook"].messages)
    assert targets == ["nurse", "nurse-head", "yiwu"]


def test_acknowledging_in_time_stops_the_escalation(svc):
    case_id = svc.comment(URGENT)["case"]["id"]
    svc.ctx.clock.advance(minutes=10)
    svc.post("agent", f"/v1/cases/{case_id}/ack")
    svc.ctx.clock.advance(hours=2)
    assert svc.fire() == 0
    assert _events(svc, case_id) == ["opened", "alerted", "acknowledged"]


def test_complaint_is_reminded_after_two_working_days(svc):
    svc.ctx.clock.set(svc.ctx.clock.now().replace(day=6, hour=1))  # Friday 09:00 in Shanghai
    case = svc.comment(COMPLAINT)["case"]
    assert case["due_at"].startswith("2026-03-10T01:00")  # the Tuesday after, same hour
    svc.ctx.clock.advance(days=3, hours=23)
    assert svc.fire() == 0
    svc.ctx.clock.advance(hours=2)
    assert svc.fire() == 1
    assert _events(svc, case["id"]) == ["opened", "reminded"]
    svc.deliver()
    (message,) = svc.senders["webhook"].messages
    assert message.event == "reminder"


def test_a_timer_fires_once_when_workers_race(svc):
    svc.comment(URGENT)
    svc.comment("又一次输错了药")
    svc.ctx.clock.advance(minutes=31)
    fired = []
    threads = [threading.Thread(target=lambda: fired.append(fire_due_timers(svc.ctx))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(fired) == 2
    with svc.ctx.factory() as session:
        escalations = session.scalars(select(OutboxAlert).where(OutboxAlert.event == "escalated")).all()
        pending = session.scalars(select(Timer).where(Timer.fired_at.is_(None))).all()
    assert len(escalations) == 2 and len(pending) == 2


def test_timers_survive_a_restart(service):
    first = service.start()
    case_id = first.comment(URGENT)["case"]["id"]
    first.stop()
    service.clock.advance(minutes=45)
    second = service.start()
    try:
        assert second.fire() == 1
        assert second.fire() == 0
        assert _events(second, case_id)[-1] == "escalated"
    finally:
        second.stop()


# ---- outbox ------------------------------------------------------------------------------------------------
def test_failed_alerts_back_off_then_become_dead_letters_and_can_be_retried(svc):
    webhook = svc.senders["webhook"]
    webhook.down = True
    svc.comment(URGENT)
    assert svc.deliver() == 0
    (alert,) = svc.get("manager", "/v1/alerts?status=failed").json()["items"]
    assert alert["attempts"] == 1 and alert["last_error_code"] == "connection"
    assert svc.deliver() == 0 and webhook.batches == []  # not due yet: backing off
    assert svc.get("manager", "/v1/alerts?status=failed").json()["items"][0]["attempts"] == 1
    for _ in range(2):
        svc.ctx.clock.advance(minutes=5)
        svc.deliver()
    dead = svc.get("manager", "/v1/alerts?status=dead").json()
    assert dead["count"] == 1 and dead["items"][0]["attempts"] == 3
    metrics = svc.client.get("/metrics").text
    assert 'pvoice_alert_dead_letters_total{channel="webhook"} 1.0' in metrics
    assert 'pvoice_alert_failures_total{channel="webhook",code="connection"} 3.0' in metrics
    assert svc.post("manager", f"/v1/alerts/{alert['id']}/retry").status_code == 403
    retried = svc.post("admin", f"/v1/alerts/{alert['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    webhook.down = False
    # the retried alert, the admin's page about its death, and the escalation to the head nurse it caused
    assert svc.deliver() == 3
    assert svc.post("admin", f"/v1/alerts/{alert['id']}/retry").status_code == 409
    assert svc.post("admin", "/v1/alerts/999/retry").status_code == 404


def test_a_permanent_failure_is_dead_at_once(svc):
    svc.senders["webhook"].fail_code = "rejected"
    svc.comment(URGENT)
    svc.deliver()
    (alert,) = svc.get("admin", "/v1/alerts?status=dead").json()["items"]
    assert alert["attempts"] == 1 and alert["last_error_code"] == "rejected"


def test_a_claim_is_exclusive_until_its_lease_runs_out(svc):
    svc.comment(URGENT)
    svc.comment("再不给我退费我就打12345投诉你们")
    now = svc.ctx.clock.now()
    _, first = claim(svc.ctx.factory, now=now, lease_seconds=60)
    _, second = claim(svc.ctx.factory, now=now, lease_seconds=60)
    assert len(first) == 2 and second == []
    # a worker that died mid-send: after the lease the alerts are claimed again (at least once)
    _, again = claim(svc.ctx.factory, now=now + timedelta(seconds=61), lease_seconds=60)
    assert sorted(r.id for r in again) == sorted(r.id for r in first)


def test_alerts_pending_at_a_crash_are_delivered_after_restart(service):
    first = service.start()
    first.comment(URGENT)
    first.comment("再不给我退费我就打12345投诉你们")
    # the process dies between claim and settle: rows stay `sending` with a lease
    claim(first.ctx.factory, now=service.clock.now(), lease_seconds=60)
    first.stop()
    service.clock.advance(minutes=2)
    second = service.start()
    try:
        assert second.deliver() == 2
        keys = [m.idempotency_key for m in service.senders["webhook"].messages]
        assert len(keys) == len(set(keys)) == 2
        assert second.get("admin", "/v1/alerts?status=delivered").json()["count"] == 2
    finally:
        second.stop()


def test_the_outbox_row_is_written_with_the_case_or_not_at_all(svc, monkeypatch):
    import pvoice.serving.services.triage as triage

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(triage, "enqueue", broken)
    response = svc.client.post("/v1/comments", headers=svc.headers("intake"), json={"comments": [
        {"text": URGENT, "channel": "wechat", "received_at": "2026-03-02T09:00:00"}]})
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal"
    assert svc.get("agent", "/v1/cases").json()["count"] == 0
    with svc.ctx.factory() as session:
        assert session.scalars(select(Timer)).all() == []


def test_session_factory_roundtrips_aware_datetimes(db_url):
    from datetime import datetime, timezone

    from pvoice.serving.db import ApiKey

    engine = make_db_engine(db_url)
    upgrade(engine)
    factory = make_session_factory(engine)
    when = datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    with factory() as session, session.begin():
        session.add(ApiKey(prefix="p", key_hash="h", role="agent", name="n", created_at=when))
    with factory() as session:
        stored = session.scalars(select(ApiKey)).one().created_at
    assert stored == when and stored.tzinfo is not None
    engine.dispose()
