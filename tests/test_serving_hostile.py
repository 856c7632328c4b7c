"""The service under hostile input and faults (issue 11): whole lists or nothing, 4xx for out-of-range values,
500s logged and counted on a kept connection, a write-probing /readyz, body limits before the body is read,
the ingest lane ahead of /v1/classify, and private database files."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from pvoice.model.predictor import Classifier
from pvoice.serving.db.models import Comment, OutboxAlert
from pvoice.serving.services.batcher import CLASSIFY, INGEST, MicroBatcher
from serving_support import Harness, scripted_app

URGENT = "护士给我妈输错了液，到现在没人给个说法！"
BIG_INT = str(2**63)


def _app(tmp_path, tiny_model_dir, scripted, **settings):
    return scripted_app(tmp_path, tiny_model_dir, scripted, **settings)[0]


@pytest.fixture
def svc(tmp_path, tiny_model_dir, scripted):
    """As conftest's, but a server error is an answer to look at, not an exception in the test."""
    with TestClient(_app(tmp_path, tiny_model_dir, scripted), raise_server_exceptions=False) as client:
        yield Harness(client.app, client)


def _counts(svc) -> tuple[int, int]:
    with svc.ctx.factory() as session:
        return (session.scalar(select(func.count()).select_from(Comment)),
                session.scalar(select(func.count()).select_from(OutboxAlert)))


def _item(text: str = URGENT, **fields) -> dict:
    return {"text": text, "channel": "wechat", "received_at": "2026-03-02T09:00:00+08:00", **fields}


# ---- defect 1: a list is stored whole or not at all --------------------------------------------------------
@pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00", "0001-01-01T00:00:00+01:00"])
def test_a_list_with_an_impossible_date_is_refused_whole(svc, when):
    body = {"comments": [_item(), _item(), _item(received_at=when)]}
    response = svc.post("intake", "/v1/comments", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "comments[2].received_at"
    assert _counts(svc) == (0, 0)


def test_a_list_that_fails_while_stored_leaves_nothing_behind(svc, monkeypatch):
    from pvoice.serving.services import comments

    real, calls = comments.open_case, []

    def third_fails(session, ctx, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("bug while triaging")
        return real(session, ctx, **kw)

    monkeypatch.setattr(comments, "open_case", third_fails)
    response = svc.post("intake", "/v1/comments", {"comments": [_item(), _item(), _item()]})
    assert response.status_code == 500
    assert _counts(svc) == (0, 0)  # the first two, and their alerts, went with the third
    monkeypatch.setattr(comments, "open_case", real)
    retried = svc.post("intake", "/v1/comments", {"comments": [_item(), _item(), _item()]})
    assert retried.status_code == 200 and _counts(svc)[0] == 3


def test_an_external_id_repeated_in_one_list_is_stored_once(svc):
    response = svc.post("intake", "/v1/comments", {"comments": [_item(external_id="a"), _item(external_id="a")]})
    assert response.status_code == 200, response.text
    assert [i["created"] for i in response.json()["items"]] == [True, False]
    assert _counts(svc)[0] == 1


# ---- defect 6: out-of-range integers and dates are client errors ---------------------------------------------
@pytest.mark.parametrize("method,path", [
    ("GET", f"/v1/cases/{BIG_INT}"), ("GET", f"/v1/cases?offset={BIG_INT}"), ("DELETE", f"/v1/keys/{BIG_INT}"),
    ("GET", f"/v1/alerts?case_id={BIG_INT}"), ("GET", f"/v1/alerts?offset={BIG_INT}"),
    ("POST", f"/v1/alerts/{BIG_INT}/retry"), ("GET", f"/v1/comments/{BIG_INT}"),
    ("GET", "/v1/cases?created_from=0001-01-01T00:00:00%2B01:00"), ("GET", "/v1/cases?created_to=9999-12-31T23:59:59Z"),
    ("GET", "/v1/cases?department=a%00b"),
])
def test_out_of_range_values_are_422(svc, method, path):
    response = svc.client.request(method, path, headers=svc.headers("admin"))
    assert response.status_code == 422, (path, response.text)
    assert response.json()["error"]["code"] == "invalid_input"


@pytest.mark.parametrize("text", ["病房里\x00很吵", "\u200b\u200b\u200d", " \ufeff\u2060 ", "\u2063\u180e",
                                  "\u200e\u200f\u202a\u202c", "\u2066\u2069\u3000"])
def test_nul_and_invisible_only_texts_are_refused(svc, text):
    for path, body in (("/v1/comments", {"comments": [_item(text)]}), ("/v1/classify", {"texts": [text]})):
        response = svc.post("intake", path, body)
        assert response.status_code == 422, response.text
    assert _counts(svc) == (0, 0)


def test_nul_anywhere_in_a_body_is_refused(svc):
    response = svc.post("intake", "/v1/comments", {"comments": [_item(external_id="x\x00y")]})
    assert response.status_code == 422 and "NUL" in response.json()["error"]["message"]


# ---- defect 6: a 500 is logged with a request id, counted, and the connection kept ---------------------------
def test_an_unexpected_error_is_a_logged_counted_500(svc, monkeypatch, caplog):
    from pvoice.serving.api.routes import cases

    phone = "".join(["138", "1234", "5678"])  # the exception's message is runtime data, not source

    def broken(*_a, **_k):
        raise ZeroDivisionError("秘密 " + phone)

    monkeypatch.setattr(cases.service, "list_cases", broken)
    with caplog.at_level(logging.INFO, logger="pvoice"):
        response = svc.client.get("/v1/cases", headers={**svc.headers("agent"), "X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-42"
    assert "req-42" in response.json()["error"]["message"]
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert logged and logged[0].request_id == "req-42" and logged[0].error == "ZeroDivisionError"
    assert all("13812345678" not in r.getMessage() + str(vars(r)) for r in caplog.records)
    assert any(r.getMessage() == "request" and r.status == 500 for r in caplog.records)
    metrics = svc.client.get("/metrics").text
    assert 'pvoice_server_errors_total{route="/v1/cases",status="500"} 1.0' in metrics


# ---- defect 7: a database that refuses writes --------------------------------------------------------------
def test_a_database_that_refuses_writes_is_503_and_not_ready(svc):
    engine = svc.ctx.factory.kw["bind"]

    def disk_full(conn, cursor, statement, *_):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            raise sqlite3.OperationalError("database or disk is full")

    event.listen(engine, "before_cursor_execute", disk_full)
    try:
        response = svc.post("intake", "/v1/comments", {"comments": [_item()]})
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "storage_unavailable"
        assert "护士" not in response.text
        ready = svc.client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("not writable")
        assert svc.get("agent", "/v1/cases").status_code == 200  # reads still work
    finally:
        event.remove(engine, "before_cursor_execute", disk_full)
    assert svc.client.get("/readyz").status_code == 200
    assert svc.post("intake", "/v1/comments", {"comments": [_item()]}).status_code == 200


# ---- defect 4: ingest ahead of /v1/classify, and a cap on evidence --------------------------------------------
class _SlowModel:
    """Records the order of its calls; each takes a moment, like a real model would."""

    def __init__(self, base):
        self.base, self.config, self.log = base, base.config, []

    def predict(self, texts, batch_size=32, evidence=False):
        time.sleep(0.02 * len(texts) * (4 if evidence else 1))
        self.log.append((tuple(texts), evidence))
        return self.base.predict(list(texts), batch_size=batch_size)


def test_ingest_is_served_before_a_large_classify_with_evidence(tiny_model_dir):
    model = _SlowModel(Classifier.from_pretrained(tiny_model_dir))

    async def scenario():
        batcher = MicroBatcher(model, window_ms=1, max_texts=64)
        await batcher.start()
        big = asyncio.create_task(batcher.predict([f"长文{i}" for i in range(64)], evidence=True, priority=CLASSIFY))
        await asyncio.sleep(0.05)
        await batcher.predict(["输错了药"], priority=INGEST)
        done_while_big_waits = not big.done()
        await big
        await batcher.stop()
        return done_while_big_waits

    assert asyncio.run(scenario())
    first_ingest = next(n for n, (texts, _) in enumerate(model.log) if "输错了药" in texts)
    assert first_ingest <= 2, model.log[:first_ingest + 1]  # it waited for at most the piece in progress
    assert len(model.log) > 10  # the evidence job went in small pieces


def test_classify_explains_at_most_the_configured_number_of_texts(tmp_path, tiny_model_dir, scripted):
    explained = []
    real = scripted.predict

    def counting(texts, batch_size=32, evidence=False):
        explained.extend(texts if evidence else [])
        return real(texts, batch_size=batch_size, evidence=evidence)

    scripted.predict = counting
    try:
        app = _app(tmp_path, tiny_model_dir, scripted, evidence_max_texts=3)
        with TestClient(app) as client:
            svc = Harness(app, client)
            response = svc.post("intake", "/v1/classify", {"texts": [f"第{i}条意见" for i in range(10)],
                                                           "evidence": True})
    finally:
        del scripted.predict
    assert response.status_code == 200 and len(response.json()["items"]) == 10
    assert len(explained) == 3


# ---- defects 5 and 11: body limit and auth before the body, slow bodies, on a real server ---------------------
@pytest.fixture
def server(tmp_path, tiny_model_dir, scripted):
    app = _app(tmp_path, tiny_model_dir, scripted, max_body_bytes=64 * 1024, body_timeout_s=1.0)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    port = srv.servers[0].sockets[0].getsockname()[1]
    from serving_support import make_keys

    keys = make_keys(app)
    yield app, port, keys
    srv.should_exit = True
    thread.join(10)


def _raw(port: int, head: str, body: bytes = b"", *, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode() + body)
        return _read_response(sock)


def _read_response(sock) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


def _post_head(path: str, length: int, key: str | None = None) -> str:
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}"
            f"Content-Length: {length}\r\n\r\n")


def test_unauthenticated_body_is_refused_before_it_is_read(server):
    _app_, port, _keys = server
    started = time.monotonic()
    reply = _raw(port, _post_head("/v1/comments", 100 * 1024 * 1024))  # the body is never sent
    assert reply.startswith(b"HTTP/1.1 401"), reply[:200]
    assert time.monotonic() - started < 2  # answered at once, not after a body timeout


def test_declared_and_streamed_bodies_over_the_limit_are_413(server):
    _app_, port, keys = server
    reply = _raw(port, _post_head("/v1/comments", 10 * 1024 * 1024, keys["intake"]))
    assert reply.startswith(b"HTTP/1.1 413") and b"too_large" in reply
    chunked = (f"POST /v1/comments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {keys['intake']}\r\n"
               "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"a" * 32768
    body = b"".join(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for _ in range(4)) + b"0\r\n\r\n"
    reply = _raw(port, chunked, body)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


def test_a_body_that_stops_arriving_is_cut_off(server):
    _app_, port, keys = server
    started = time.monotonic()
    reply = _raw(port, _post_head("/v1/comments", 1000, keys["intake"]), b'{"comments": [', timeout=10)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert time.monotonic() - started < 5


def test_after_a_500_the_connection_stays_open(server, monkeypatch):
    app, port, keys = server
    from pvoice.serving.api.routes import cases

    monkeypatch.setattr(cases.service, "list_cases", lambda *a, **k: 1 / 0)
    request = f"GET /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {keys['agent']}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        assert _read_response(sock).startswith(b"HTTP/1.1 500")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _read_response(sock).startswith(b"HTTP/1.1 200")


# ---- defect 11: the database file is private ------------------------------------------------------------------
def test_the_sqlite_file_is_created_owner_only(svc):
    path = Path(svc.ctx.settings.database_url.removeprefix("sqlite:///"))
    for f in [path, *path.parent.glob(path.name + "-*")]:
        assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, (f, oct(f.stat().st_mode))
