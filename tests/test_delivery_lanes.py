"""Delivery lanes and the shared robot rate limit, against real receivers on 127.0.0.1: a slow robot holds up
only itself, and two service processes on one database together send a robot no more than its limit."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from pvoice.serving import create_app
from pvoice.serving.db import OutboxAlert, make_db_engine, make_session_factory, upgrade
from serving_support import Harness, WebhookReceiver, make_settings, write_routing

URGENT = "护士给我妈输错了液，到现在没人给个说法！"  # routed to the nurse
ESCALATION = "再不给我退费我就打12345投诉你们"  # routed to the cashier


class SlowReceiver:
    """A robot-like HTTP server that takes `delay` seconds over each post; records when each came and went."""

    def __init__(self, delay: float):
        self.delay = delay
        self.started: list[float] = []
        self.finished: list[float] = []
        self.bodies: list[dict] = []
        self.in_flight = self.most_in_flight = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.started.append(time.monotonic())
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                time.sleep(receiver.delay)
                reply = b'{"errcode": 0, "errmsg": "ok"}'
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1
                        receiver.finished.append(time.monotonic())
                        receiver.bodies.append(json.loads(body))

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda *args: None  # a client that timed out leaves a broken pipe behind
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fast():
    server = WebhookReceiver()
    yield server
    server.close()


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def _routing(tmp_path, fast_url: str, nurse: dict):
    path = write_routing(tmp_path / "routing.yaml", webhook_url=fast_url)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["people"]["nurse"]["alerts"] = [nurse]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_a_slow_robot_holds_up_only_itself(tmp_path, tiny_model_dir, scripted, fast):
    # issue 11: a DingTalk robot taking 9 s a post held back every webhook and e-mail alert by 61 s
    slow = SlowReceiver(delay=2.0)
    try:
        routing = _routing(tmp_path, fast.url, {"channel": "dingtalk", "target": slow.url + "/robot/send?access_token=t"})
        settings = make_settings(tmp_path, tiny_model_dir, routing_path=routing, case_evidence=False)
        app = create_app(settings, classifier=scripted)  # the real senders, the background workers
        with TestClient(app) as client:
            svc = Harness(app, client)
            svc.comment(URGENT)
            _wait(lambda: slow.started)
            svc.comment(f"{URGENT} 又一次")  # same robot, while its first post is in flight: waits its turn
            sent = time.monotonic()
            svc.comment(ESCALATION)  # another target: goes at once
            _wait(lambda: fast.posts)
            arrived = time.monotonic()
            assert not slow.finished, "the fast alert waited for the slow robot"
            assert arrived - sent < 1.0
            _wait(lambda: len(slow.finished) == 2)
            assert slow.most_in_flight == 1 and slow.started[1] >= slow.finished[0]
            _wait(lambda: svc.get("admin", "/v1/alerts?status=delivered").json()["count"] == 3)
    finally:
        slow.close()


def test_a_robot_slower_than_the_timeout_fails_its_lane_and_frees_it(tmp_path, tiny_model_dir, scripted, fast):
    slow = SlowReceiver(delay=1.5)
    try:
        routing = _routing(tmp_path, fast.url, {"channel": "wecom", "target": slow.url + "/cgi-bin/webhook/send?key=k"})
        settings = make_settings(tmp_path, tiny_model_dir, routing_path=routing, case_evidence=False,
                                 alert_timeout_s=0.3, alert_backoff_base_seconds=5, alert_backoff_max_seconds=5)
        app = create_app(settings, classifier=scripted, start_workers=False)
        with TestClient(app) as client:
            svc = Harness(app, client)
            svc.comment(URGENT)
            start = time.monotonic()
            assert svc.deliver() == 0
            assert time.monotonic() - start < 1.2  # alert_timeout_s bounds the lane, not the robot
            (alert,) = svc.get("admin", "/v1/alerts?status=failed").json()["items"]
            assert alert["last_error_code"] == "timeout"
            assert svc.app.state.delivery._busy == set()
    finally:
        slow.close()


def test_two_processes_together_keep_under_a_robots_limit(tmp_path, tiny_model_dir, scripted, fast, db_url):
    # issue 11: two server processes on one SQLite file sent a robot 40 posts a minute; its limit is 20
    robot = fast.url + "/cgi-bin/webhook/send?key=shared"
    routing = _routing(tmp_path, fast.url, {"channel": "wecom", "target": robot})
    settings = make_settings(tmp_path, tiny_model_dir, routing_path=routing, case_evidence=False,
                             database_url=db_url, alert_rate_limit_per_minute=3)
    # two apps, each with its own engine, its own senders and its own delivery worker: two processes
    first, second = (create_app(settings, classifier=scripted, start_workers=False) for _ in range(2))
    with TestClient(first) as one, TestClient(second) as two:
        a, b = Harness(first, one), Harness(second, two)
        for n in range(8):
            a.comment(f"{URGENT} 第{n}次")
            (a if n % 2 else b).deliver()
        assert len(fast.posts) == 3
        with first.state.ctx.factory() as session:
            rows = session.scalars(select(OutboxAlert).where(OutboxAlert.recipient == "nurse")).all()
        assert sorted(r.status for r in rows) == ["delivered"] * 3 + ["failed"] * 5
        assert {r.last_error_code for r in rows if r.status == "failed"} == {"rate_limited"}
        assert all(r.attempts == 0 for r in rows if r.status == "failed")  # slowing down is not failing


def test_a_window_row_created_by_another_process_mid_attempt_is_locked_before_it_is_written(db_url):
    """PostgreSQL: the locking write finds no row, another process then creates it, and our read sees it
    unlocked. Writing it then could overwrite a slot a third process took, so the attempt starts again."""
    from sqlalchemy import event

    from pvoice.serving.alerts import DatabaseWindowLimiter

    if not db_url.startswith("postgresql"):
        pytest.skip("on SQLite the locking write holds the whole database: no row can appear")
    engines = [make_db_engine(db_url) for _ in range(2)]
    upgrade(engines[0])
    ours, other = (DatabaseWindowLimiter(make_session_factory(e), 5) for e in engines)
    locking_writes = []

    def after_execute(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE rate_windows SET key="):
            locking_writes.append(cursor.rowcount)
            if len(locking_writes) == 1:  # the other process takes a slot between our write and our read
                taker = threading.Thread(target=lambda: other.try_acquire("robot"))
                taker.start()
                taker.join()

    event.listen(engines[0], "after_cursor_execute", after_execute)
    assert ours.try_acquire("robot") == 0.0
    assert locking_writes == [0, 1]  # the second attempt held the row's lock
    assert ours.available("robot") == 3
    for engine in engines:
        engine.dispose()


def test_the_shared_window_admits_exactly_its_limit_from_many_threads_of_two_engines(db_url):
    from pvoice.serving.alerts import DatabaseWindowLimiter

    engines = [make_db_engine(db_url) for _ in range(2)]
    upgrade(engines[0])
    limiters = [DatabaseWindowLimiter(make_session_factory(e), 20) for e in engines]
    results: list[float] = []
    lock = threading.Lock()

    def hammer(limiter):
        for _ in range(10):
            wait = limiter.try_acquire("https://robot.example/send?key=secret")
            with lock:
                results.append(wait)

    threads = [threading.Thread(target=hammer, args=(limiters[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(0.0) == 20 and len(results) == 80
    assert all(0 < wait <= 60 for wait in results if wait)
    assert limiters[1].available("https://robot.example/send?key=secret") == 0
    assert limiters[0].available("https://robot.example/send?key=other") == 20
    with engines[0].connect() as connection:
        stored = connection.exec_driver_sql("SELECT key FROM rate_windows").scalars().all()
    assert stored and not any("secret" in key for key in stored)  # the URL's token is not kept
    for engine in engines:
        engine.dispose()
