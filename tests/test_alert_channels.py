"""Alert senders against real receivers on 127.0.0.1: an HTTP server in a thread and an aiosmtpd SMTP server."""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import json
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email import policy
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from pvoice.settings import Settings
from pvoice.serving.alerts import (
    AlertMessage,
    DeliveryError,
    DingTalkSender,
    SlidingWindowLimiter,
    WeComSender,
    build_senders,
    close_senders,
    pack_markdown,
    parse_retry_after,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
ROBOT_OK = (200, {}, b'{"errcode":0,"errmsg":"ok"}')


# ---- a real HTTP receiver --------------------------------------------------------------------------------------
@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    raw_query: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class Receiver:
    """Records every POST; answers with queued (status, headers, body) replies, then with a robot "ok"."""

    def __init__(self):
        self.requests: list[Received] = []
        self.replies: list[tuple[int, dict[str, str], bytes]] = []
        self.delay = 0.0
        self.url = ""

    def handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append(Received(parts.path, parse_qs(parts.query), parts.query, headers, body))
                status, extra, reply = receiver.replies.pop(0) if receiver.replies else ROBOT_OK
                time.sleep(receiver.delay)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture(scope="module")
def http_server():
    # One server for the module: shutting one down waits out its poll interval.
    rec = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), rec.handler())
    server.daemon_threads = True
    server.handle_error = lambda *args: None  # a client that timed out leaves a broken pipe behind
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver(http_server):
    http_server.requests.clear()
    http_server.replies.clear()
    http_server.delay = 0.0
    return http_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings(**overrides) -> Settings:
    values = {"alert_timeout_s": 2.0, "smtp_host": "127.0.0.1", "smtp_from": "pvoice@hospital.example"}
    return Settings(_env_file=None, **{**values, **overrides})


@pytest.fixture
def senders():
    built = build_senders(settings(alert_webhook_secret="whsec", alert_dingtalk_secrets={"tok-1": "SECdemo"}))
    yield built
    close_senders(built)


def alert(n: int = 0, *, channel: str = "wecom", target: str = "", body: str | None = None, **kw) -> AlertMessage:
    values = {
        "idempotency_key": f"case-{n}:opened",
        "channel": channel,
        "target": target,
        "title": f"紧急：病例 {n} 需要处理",
        "body_markdown": body if body is not None else f"患者反映输液出错（第 {n} 条）",
        "case_id": f"case-{n}",
        "event": "opened",
        "urgency": "urgent",
        "created_at": datetime(2025, 3, 1, 2, 30, tzinfo=timezone.utc),
    }
    return AlertMessage(**{**values, **kw})


ROBOT_PATHS = {"wecom": "/cgi-bin/webhook/send?key=k-1", "dingtalk": "/robot/send?access_token=tok-1"}
HTTP_PATHS = {**ROBOT_PATHS, "webhook": "/hooks/pvoice"}


def batch(receiver: Receiver, channel: str, count: int, **kw) -> list[AlertMessage]:
    return [alert(i, channel=channel, target=receiver.url + HTTP_PATHS[channel], **kw) for i in range(count)]


def robot_text(request: Received) -> str:
    markdown = request.json()["markdown"]
    return markdown.get("content") or markdown["text"]


# ---- robots ----------------------------------------------------------------------------------------------------
def test_wecom_posts_one_markdown_message(receiver, senders):
    senders["wecom"].send(batch(receiver, "wecom", 1))
    [request] = receiver.requests
    assert request.path == "/cgi-bin/webhook/send" and request.query == {"key": ["k-1"]}
    assert request.headers["content-type"].startswith("application/json")
    payload = request.json()
    assert payload["msgtype"] == "markdown" and set(payload["markdown"]) == {"content"}
    content = payload["markdown"]["content"]
    assert content.startswith("#### 紧急：病例 0 需要处理\n患者反映输液出错（第 0 条）")
    assert "case-0 · opened · urgent · 2025-03-01 10:30" in content  # shown in the hospital's time zone


@pytest.mark.parametrize("channel", ["wecom", "dingtalk"])
def test_robots_pack_a_burst_under_4096_bytes_without_splitting_an_alert(receiver, senders, channel):
    bodies = [f"第{i}条：" + "候诊时间过长" * 50 for i in range(12)]  # about 900 bytes each
    messages = [alert(i, channel=channel, target=receiver.url + ROBOT_PATHS[channel], body=b)
                for i, b in enumerate(bodies)]
    senders[channel].send(messages)
    texts = [robot_text(r) for r in receiver.requests]
    assert 1 < len(texts) < len(messages)
    assert all(len(t.encode("utf-8")) <= 4096 for t in texts)
    for body in bodies:
        assert sum(t.count(body) for t in texts) == 1
    assert "".join(texts).index(bodies[0]) < "".join(texts).index(bodies[-1])


def test_an_alert_longer_than_the_limit_arrives_whole_but_shortened(receiver, senders):
    senders["wecom"].send(batch(receiver, "wecom", 1, body="很长的投诉内容" * 400))
    [text] = [robot_text(r) for r in receiver.requests]
    assert len(text.encode("utf-8")) <= 4096
    assert text.startswith("#### 紧急：病例 0") and "已截断" in text and "case-0 · opened" in text


def test_dingtalk_payload_and_signature_checked_independently(receiver):
    secret = "SEC0123456789abcdef"

    def sign(ts: int) -> str:
        digest = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    # a timestamp whose signature holds "+" or "/": those break unless the sign is URL-encoded
    ts = next(t for t in range(1_700_000_000_000, 1_700_000_000_100) if set(sign(t)) & {"+", "/"})
    sender = DingTalkSender(limiter=SlidingWindowLimiter(20), timeout=2, allowed_hosts=["127.0.0.1"],
                            secrets={"tok-1": secret}, clock=lambda: ts / 1000)
    sender.send(batch(receiver, "dingtalk", 2))
    [request] = receiver.requests
    assert request.query["access_token"] == ["tok-1"] and request.query["timestamp"] == [str(ts)]
    assert request.query["sign"] == [sign(ts)]
    raw_sign = request.raw_query.split("sign=")[1]
    assert "+" not in raw_sign and "/" not in raw_sign and unquote(raw_sign) == sign(ts)
    payload = request.json()
    assert payload["msgtype"] == "markdown"
    assert payload["markdown"]["title"] == "紧急：病例 0 需要处理 (+1)"
    assert "患者反映输液出错（第 1 条）" in payload["markdown"]["text"]


def test_dingtalk_signs_now_and_looks_secrets_up_by_url_or_token(receiver, senders):
    senders["dingtalk"].send(batch(receiver, "dingtalk", 1))
    ts = int(receiver.requests[0].query["timestamp"][0])
    assert abs(ts - time.time() * 1000) < 5_000
    unsigned = alert(channel="dingtalk", target=receiver.url + "/robot/send?access_token=other")
    senders["dingtalk"].send([unsigned])
    assert "sign" not in receiver.requests[1].query
    by_url = DingTalkSender(limiter=SlidingWindowLimiter(20), timeout=2, allowed_hosts=["127.0.0.1"],
                            secrets={unsigned.target: "SECx"})
    assert by_url.secret_for(unsigned.target) == "SECx"
    by_url.close()


@pytest.mark.parametrize(("channel", "errcode", "retryable", "code"), [
    ("wecom", 45009, True, "rate_limited"),
    ("wecom", 93000, False, "robot_error"),
    ("wecom", -1, True, "unavailable"),
    ("dingtalk", 130101, True, "rate_limited"),
    ("dingtalk", 310000, False, "robot_error"),
])
def test_robot_errcodes(receiver, senders, channel, errcode, retryable, code):
    receiver.replies.append((200, {}, json.dumps({"errcode": errcode, "errmsg": "nope"}).encode()))
    with pytest.raises(DeliveryError) as caught:
        senders[channel].send(batch(receiver, channel, 1))
    assert (caught.value.retryable, caught.value.code) == (retryable, code)
    assert str(errcode) in str(caught.value)
    assert "k-1" not in str(caught.value) and "tok-1" not in str(caught.value)  # tokens stay out of errors


@pytest.mark.parametrize("channel", ["wecom", "dingtalk"])
def test_robot_posts_carry_the_alert_keys_in_headers_and_in_the_text(receiver, senders, channel):
    senders[channel].send(batch(receiver, channel, 1))
    senders[channel].send(batch(receiver, channel, 3))
    single, several = receiver.requests
    assert single.headers["idempotency-key"] == single.headers["x-pvoice-idempotency-key"] == "case-0:opened"
    assert "\n> ref: case-0:opened" in robot_text(single)  # a person reading the group can tell a repeat
    expected_batch = "batch-" + hashlib.sha256("\n".join(sorted(
        f"case-{i}:opened" for i in range(3))).encode()).hexdigest()[:32]
    assert several.headers["idempotency-key"] == several.headers["x-pvoice-idempotency-key"] == expected_batch
    assert all(f"ref: case-{i}:opened" in robot_text(several) for i in range(3))


def test_a_reply_that_is_not_a_robot_answer_is_retried(receiver, senders):
    receiver.replies.append((200, {}, b"<html>proxy login</html>"))
    with pytest.raises(DeliveryError) as caught:
        senders["wecom"].send(batch(receiver, "wecom", 1))
    assert (caught.value.code, caught.value.retryable) == ("bad_response", True)


# ---- HTTP status, connection and timeout, for every HTTP channel -----------------------------------------------
@pytest.mark.parametrize("channel", ["wecom", "dingtalk", "webhook"])
@pytest.mark.parametrize(("status", "headers", "retryable", "code", "retry_after"), [
    (500, {}, True, "unavailable", None),
    (503, {"Retry-After": "7"}, True, "unavailable", 7.0),
    (429, {"Retry-After": "3"}, True, "rate_limited", 3.0),
    (408, {}, True, "unavailable", None),
    (400, {}, False, "rejected", None),
    (404, {}, False, "rejected", None),
])
def test_http_status(receiver, senders, channel, status, headers, retryable, code, retry_after):
    receiver.replies.append((status, headers, b'{"error": "x"}'))
    with pytest.raises(DeliveryError) as caught:
        senders[channel].send(batch(receiver, channel, 1))
    error = caught.value
    assert (error.retryable, error.code, error.retry_after, error.delivered) == (retryable, code, retry_after, ())


@pytest.mark.parametrize("channel", ["wecom", "dingtalk", "webhook"])
def test_a_receiver_that_is_down_is_retried(senders, channel):
    target = f"http://127.0.0.1:{free_port()}" + HTTP_PATHS[channel]
    with pytest.raises(DeliveryError) as caught:
        senders[channel].send([alert(channel=channel, target=target)])
    assert (caught.value.code, caught.value.retryable) == ("connection", True)


def test_a_slow_receiver_times_out_retryably(receiver):
    receiver.delay = 0.6
    built = build_senders(settings(alert_timeout_s=0.2))
    with pytest.raises(DeliveryError) as caught:
        built["webhook"].send(batch(receiver, "webhook", 1))
    assert (caught.value.code, caught.value.retryable) == ("timeout", True)
    close_senders(built)


def test_retry_after_as_seconds_or_http_date():
    now = datetime(2025, 3, 1, tzinfo=timezone.utc)
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now=now) == 30.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


# ---- generic webhook -------------------------------------------------------------------------------------------
def test_webhook_posts_signed_json_with_idempotency_keys(receiver, senders):
    senders["webhook"].send(batch(receiver, "webhook", 1))
    senders["webhook"].send(batch(receiver, "webhook", 3))
    single, several = receiver.requests
    assert single.headers["idempotency-key"] == "case-0:opened" == single.json()["idempotency_key"]
    assert single.headers["x-pvoice-idempotency-key"] == "case-0:opened"
    payload = several.json()
    assert several.headers["idempotency-key"] == payload["idempotency_key"]
    expected_batch = "batch-" + hashlib.sha256("\n".join(sorted(
        f"case-{i}:opened" for i in range(3))).encode()).hexdigest()[:32]
    assert payload["idempotency_key"] == expected_batch
    assert [m["idempotency_key"] for m in payload["messages"]] == [f"case-{i}:opened" for i in range(3)]
    first = payload["messages"][0]
    assert first["case_id"] == "case-0" and first["created_at"] == "2025-03-01T02:30:00+00:00"
    assert "target" not in first
    for request in receiver.requests:
        timestamp = request.headers["x-pvoice-timestamp"]
        mac = hmac.new(b"whsec", timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
        assert request.headers["x-pvoice-signature"] == "sha256=" + mac
        assert abs(int(timestamp) - time.time()) < 5


def test_webhook_without_secret_is_unsigned(receiver):
    built = build_senders(settings())
    built["webhook"].send(batch(receiver, "webhook", 1))
    assert "x-pvoice-signature" not in receiver.requests[0].headers
    close_senders(built)


def test_a_large_batch_goes_in_parts_and_a_failure_reports_what_arrived(receiver, senders):
    messages = batch(receiver, "webhook", 120)
    receiver.replies.extend([(200, {}, b"{}"), (502, {}, b"")])
    with pytest.raises(DeliveryError) as caught:
        senders["webhook"].send(messages)
    assert caught.value.retryable and caught.value.delivered == tuple(m.idempotency_key for m in messages[:50])
    senders["webhook"].send(messages[50:])
    sizes = [len(r.json()["messages"]) for r in receiver.requests]
    assert sizes == [50, 50, 50, 20]


def test_duplicate_keys_in_one_batch_go_once(receiver, senders):
    message = batch(receiver, "webhook", 1)[0]
    senders["webhook"].send([message, message])
    assert len(receiver.requests[0].json()["messages"]) == 1


# ---- rate limit ------------------------------------------------------------------------------------------------
class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_sliding_window_limiter_with_a_fake_clock():
    clock = FakeClock()
    limiter = SlidingWindowLimiter(20, 60.0, clock=clock)
    for i in range(20):
        assert limiter.try_acquire("robot-a") == 0.0
        clock.now += 1.0  # one message a second
    assert limiter.available("robot-a") == 0
    assert limiter.try_acquire("robot-a") == pytest.approx(40.0)  # the first one leaves the window at 1060
    assert limiter.try_acquire("robot-b") == 0.0  # each robot has its own window
    clock.now = 1060.0
    assert limiter.available("robot-a") == 1 and limiter.try_acquire("robot-a") == 0.0
    assert limiter.try_acquire("robot-a") == pytest.approx(1.0)


def test_sliding_window_limiter_is_thread_safe():
    limiter = SlidingWindowLimiter(20, 60.0, clock=FakeClock())
    results: list[float] = []
    lock = threading.Lock()

    def worker():
        for _ in range(10):
            wait = limiter.try_acquire("robot")
            with lock:
                results.append(wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(0.0) == 20 and len(results) == 80


def test_a_burst_over_the_limit_is_batched_then_deferred(receiver):
    clock = FakeClock()
    limiter = SlidingWindowLimiter(2, 60.0, clock=clock)
    wecom = WeComSender(limiter=limiter, timeout=2, allowed_hosts=["127.0.0.1"], tz=SHANGHAI)
    small = batch(receiver, "wecom", 24)
    wecom.send(small)  # two dozen short alerts: one robot message, one slot
    assert len(receiver.requests) == 1 and limiter.available(small[0].target) == 1

    clock.now += 10.0
    target = small[0].target
    big = [alert(100 + i, target=target, body=f"第{i}条" + "候诊时间过长" * 50) for i in range(12)]
    chunks = pack_markdown(big, max_bytes=4096, tz=SHANGHAI)
    assert len(chunks) >= 3
    with pytest.raises(DeliveryError) as caught:
        wecom.send(big)
    error = caught.value
    assert (error.code, error.retryable) == ("rate_limited", True)
    assert error.retry_after == pytest.approx(50.0)  # the first message leaves the window 60 s after it was sent
    assert error.delivered == chunks[0].keys and len(receiver.requests) == 2

    pending = [m for m in big if m.idempotency_key not in error.delivered]
    clock.now += 50.0  # one slot frees, not two
    with pytest.raises(DeliveryError) as caught:
        wecom.send(pending)
    assert len(caught.value.delivered) > 0 and caught.value.retry_after == pytest.approx(10.0)
    pending = [m for m in pending if m.idempotency_key not in caught.value.delivered]
    clock.now += 60.0
    wecom.send(pending)
    texts = [robot_text(r) for r in receiver.requests[1:]]
    assert all(sum(t.count(m.body_markdown) for t in texts) == 1 for m in big)  # each alert exactly once
    wecom.close()


# ---- targets and batches ---------------------------------------------------------------------------------------
def test_defaults_post_nowhere_but_this_machine():
    defaults = Settings(_env_file=None)
    assert defaults.smtp_host == "127.0.0.1"
    assert set(defaults.alert_allowed_hosts) <= {"127.0.0.1", "localhost", "::1"}
    built = build_senders(defaults)
    assert set(built) == {"wecom", "dingtalk", "webhook", "email"}
    assert all(sender.channel == name for name, sender in built.items())
    outside = alert(target="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=secret-key")
    with pytest.raises(DeliveryError) as caught:
        built["wecom"].send([outside])
    assert (caught.value.code, caught.value.retryable) == ("target_not_allowed", False)
    assert "secret-key" not in str(caught.value)
    close_senders(built)


def test_any_host_when_allowed_explicitly():
    built = build_senders(settings(alert_allowed_hosts=["*"]))
    built["wecom"].check_target("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x")
    close_senders(built)


@pytest.mark.parametrize(("channel", "target"), [
    ("wecom", "ftp://127.0.0.1/robot"),
    ("webhook", "not a url"),
    ("email", "Someone <a@b.example>"),
    ("email", "a@b.example\r\nBcc: c@d.example"),
])
def test_invalid_targets_are_permanent(senders, channel, target):
    with pytest.raises(DeliveryError) as caught:
        senders[channel].send([alert(channel=channel, target=target)])
    assert (caught.value.code, caught.value.retryable) == ("invalid_target", False)


def test_a_batch_holds_one_target_of_the_sender_channel(receiver, senders):
    mixed = batch(receiver, "webhook", 1) + [alert(1, channel="webhook", target=receiver.url + "/other")]
    for messages in ([], mixed, batch(receiver, "wecom", 1)):
        with pytest.raises(DeliveryError) as caught:
            senders["webhook"].send(messages)
        assert caught.value.code == "invalid_batch" and not caught.value.retryable
    assert receiver.requests == []


@pytest.mark.parametrize("changes", [{"channel": "sms"}, {"idempotency_key": "has space"}, {"idempotency_key": ""}])
def test_alert_message_validates_channel_and_key(changes):
    with pytest.raises(ValueError):
        alert(**changes)


def test_a_naive_time_is_utc():
    naive = alert(created_at=datetime(2025, 3, 1, 2, 30))
    assert naive.created_at == datetime(2025, 3, 1, 2, 30, tzinfo=timezone.utc)


# ---- e-mail over a real local SMTP server ----------------------------------------------------------------------
class Mailbox:
    def __init__(self):
        self.envelopes = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_server():
    started = []

    def start(**kwargs):
        mailbox = Mailbox()
        controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), **kwargs)
        controller.start()
        started.append(controller)
        return mailbox, controller.port

    yield start
    for controller in started:
        controller.stop()


def email_sender(port: int, **overrides):
    return build_senders(settings(smtp_port=port, **overrides))["email"]


def test_email_one_message_per_batch_with_text_html_and_stable_message_id(smtp_server):
    mailbox, port = smtp_server()
    messages = [alert(i, channel="email", target="duty@hospital.example") for i in range(2)]
    messages.append(alert(2, channel="email", target="duty@hospital.example",
                          body="患者留言 <script>alert(1)</script>"))
    sender = email_sender(port)
    sender.send(messages)
    sender.send(messages)  # a retry of the same batch
    first, again = mailbox.envelopes
    assert first.mail_from == "pvoice@hospital.example" and first.rcpt_tos == ["duty@hospital.example"]
    mail = email.message_from_bytes(first.original_content, policy=policy.default)
    keys = sorted(m.idempotency_key for m in messages)
    digest = hashlib.sha256(("batch-" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:32]).encode())
    assert mail["Message-ID"] == f"<{digest.hexdigest()[:40]}.pvoice@hospital.example>"
    assert email.message_from_bytes(again.original_content, policy=policy.default)["Message-ID"] == mail["Message-ID"]
    assert mail["To"] == "duty@hospital.example"
    assert mail["Subject"].startswith("[3] 紧急：病例 0 需要处理; 紧急：病例 1 需要处理")
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert all(m.body_markdown in text for m in messages)
    assert "<h4>紧急：病例 0 需要处理</h4>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_email_for_one_alert_takes_its_message_id_from_the_alert_key(smtp_server):
    mailbox, port = smtp_server()
    email_sender(port).send([alert(7, channel="email", target="duty@hospital.example")])
    mail = email.message_from_bytes(mailbox.envelopes[0].original_content, policy=policy.default)
    digest = hashlib.sha256(b"case-7:opened").hexdigest()[:40]
    assert mail["Message-ID"] == f"<{digest}.pvoice@hospital.example>"
    assert mail["Subject"] == "紧急：病例 7 需要处理"
    assert mail["X-PVoice-Idempotency-Key"] == "case-7:opened"


def test_email_login_when_configured(smtp_server):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login, auth_data.password) == (b"pvoice", b"s3cret")
        return AuthResult(success=ok, handled=False)

    mailbox, port = smtp_server(authenticator=authenticator, auth_require_tls=False)
    message = alert(channel="email", target="duty@hospital.example")
    email_sender(port, smtp_user="pvoice", smtp_password="s3cret").send([message])
    assert len(mailbox.envelopes) == 1
    with pytest.raises(DeliveryError) as caught:
        email_sender(port, smtp_user="pvoice", smtp_password="wrong").send([message])
    assert (caught.value.code, caught.value.retryable) == ("smtp_auth", False)


@pytest.mark.parametrize(("address", "code", "retryable"), [
    ("busy@hospital.example", "smtp_temporary", True),
    ("nobody@hospital.example", "smtp_rejected", False),
])
def test_email_refused_recipient(smtp_server, address, code, retryable):
    _, port = smtp_server()
    with pytest.raises(DeliveryError) as caught:
        email_sender(port).send([alert(channel="email", target=address)])
    assert (caught.value.code, caught.value.retryable) == (code, retryable)


def test_email_server_down_is_retried_and_missing_starttls_is_not(smtp_server):
    message = alert(channel="email", target="duty@hospital.example")
    with pytest.raises(DeliveryError) as caught:
        email_sender(free_port()).send([message])
    assert (caught.value.code, caught.value.retryable) == ("connection", True)
    _, port = smtp_server()
    with pytest.raises(DeliveryError) as caught:
        email_sender(port, smtp_starttls=True).send([message])
    assert (caught.value.code, caught.value.retryable) == ("smtp_tls", False)
