"""Test helpers for the triage service: a scripted classifier, a fake sender, a real local HTTP receiver, and
settings and routing that point only at this machine. No pytest here, so the module imports anywhere."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from pvoice.settings import Settings
from pvoice.serving.alerts.channels import DeliveryError
from pvoice.serving.clock import ManualClock
from pvoice.serving.db.engine import transaction
from pvoice.serving.services.auth import create_key

__all__ = ["FakeSender", "Harness", "ManualClock", "Rule", "ScriptedClassifier", "WebhookReceiver", "add_role_keys",
           "make_keys", "make_settings", "reset_postgres", "scripted_app", "write_routing"]


@dataclass(frozen=True)
class Rule:
    """When `marker` is in a text, the prediction gets these labels (the tiny model's are random)."""

    marker: str
    urgency: str
    touchpoints: tuple[str, ...] = ("nursing",)
    sentiment: str = "negative"
    urgent_reasons: tuple[str, ...] = ()
    review_reasons: tuple[str, ...] = ()  # a complaint in the review band: possibly urgent for these reasons


DEFAULT_RULES = (
    Rule("输错", "urgent", ("nursing",), urgent_reasons=("safety",)),
    Rule("12345", "urgent", ("billing",), urgent_reasons=("escalation",)),
    Rule("等了", "complaint", ("waiting", "registration")),
    Rule("谢谢", "none", ("consultation",), sentiment="positive"),
    Rule("摔了一跤", "complaint", ("inpatient",), review_reasons=("safety",)),
)


class ScriptedClassifier:
    """A real tiny classifier whose decisions are overridden by marker rules, so triage tests are deterministic;
    texts without a marker come out as neutral, urgency `none`."""

    def __init__(self, base, rules: tuple[Rule, ...] = DEFAULT_RULES):
        self.base, self.rules, self.config = base, rules, base.config
        self.calls: list[int] = []  # batch size of each call

    def predict(self, texts, batch_size: int = 32, evidence: bool = False):
        single = isinstance(texts, str)
        preds = self.base.predict([texts] if single else list(texts), batch_size=batch_size, evidence=evidence)
        self.calls.append(len(preds))
        for pred in preds:
            rule = next((r for r in self.rules if r.marker in pred.text), Rule("", "none", ("other",), "neutral"))
            pred.urgency, pred.sentiment = rule.urgency, rule.sentiment
            pred.touchpoints, pred.urgent_reasons = list(rule.touchpoints), list(rule.urgent_reasons)
            pred.aspects = {t: rule.sentiment for t in rule.touchpoints}
            pred.needs_review, pred.review_reasons = bool(rule.review_reasons), list(rule.review_reasons)
            pred.touchpoint_probabilities = dict.fromkeys(pred.touchpoint_probabilities, 0.05)
            for n, t in enumerate(rule.touchpoints):
                pred.touchpoint_probabilities[t] = 0.9 - 0.1 * n
        return preds[0] if single else preds


class FakeSender:
    """Records what it is asked to send; fails while `down` (retryable) or with `fail_code` (permanent)."""

    def __init__(self, channel: str):
        self.channel = channel
        self.batches: list[list] = []
        self.down = False
        self.fail_code: str | None = None
        self._lock = threading.Lock()

    @property
    def messages(self) -> list:
        with self._lock:
            return [m for batch in self.batches for m in batch]

    def send(self, messages: list) -> None:
        if self.fail_code:
            raise DeliveryError(f"{self.channel}: rejected", code=self.fail_code, retryable=False)
        if self.down:
            raise DeliveryError(f"{self.channel}: receiver down", code="connection", retryable=True)
        with self._lock:
            self.batches.append(list(messages))


@dataclass
class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 that records JSON posts; answers 503 while `down`."""

    down: bool = False
    posts: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)

    def __post_init__(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.posts.append(json.loads(body))
                receiver.paths.append(self.path)
                reply = b'{"errcode": 0, "errmsg": "ok"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def keys(self) -> list[str]:
        """Idempotency keys of every alert received, repeats included."""
        keys = []
        for post in self.posts:
            keys += [m["idempotency_key"] for m in post.get("messages", [])] or [post.get("idempotency_key")]
        return keys

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def write_routing(path: Path, *, webhook_url: str = "http://127.0.0.1:9/none", **overrides) -> Path:
    """A small routing file: nursing (with a cardiology variant) and billing routes, everyone always on duty."""
    def person(name: str, hook: str) -> dict:
        return {"name": name, "on_duty": ["daily 00:00-24:00"],
                "alerts": [{"channel": "webhook", "target": f"{webhook_url}/{hook}"}]}

    from pvoice.labels import load_taxonomy

    touchpoints = load_taxonomy().touchpoint_ids
    raw = {
        "people": {
            "psc": person("患者服务中心", "psc"), "yiwu": person("医务部", "yiwu"),
            "nurse": person("护理部值班", "nurse"), "nurse_head": person("护理部主任", "nurse-head"),
            "cashier": person("收费处", "cashier"),
            "dr_li": {**person("李医生", "dr-li"), "praise_names": ["李医生"]},
        },
        "fallback": {"role": "患者服务中心", "people": ["psc"]},
        "medical_affairs": {"role": "医务部", "people": ["yiwu"]},
        "routes": [
            {"id": "nursing", "touchpoints": ["nursing", "inpatient"], "role": "护理部", "people": ["nurse"],
             "head": ["nurse_head"]},
            {"id": "billing", "touchpoints": ["billing"], "role": "财务处", "people": ["cashier"]},
            {"id": "rest", "touchpoints": [t for t in touchpoints if t not in ("nursing", "inpatient", "billing")],
             "role": "患者服务中心", "people": ["psc"]},
        ],
    }
    raw.update(overrides)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def make_settings(tmp_path: Path, model_dir: Path, **overrides) -> Settings:
    if "routing_path" not in overrides:
        overrides["routing_path"] = write_routing(tmp_path / "routing.yaml")
    values = dict(
        environment="test", database_url=f"sqlite:///{tmp_path / 'pvoice.db'}", model_dir=model_dir,
        outbox_poll_seconds=0.05, timers_poll_seconds=0.05,
        alert_backoff_base_seconds=0.01, alert_backoff_max_seconds=0.05, microbatch_window_ms=5, log_json=False,
    )
    values.update(overrides)
    url = str(values["database_url"])
    if url.startswith("sqlite:///"):
        # the service opens only an existing database file (`pvoice db upgrade` creates one): be that step
        Path(url.removeprefix("sqlite:///")).touch(mode=0o600)
    return Settings(**values)


def scripted_app(tmp_path: Path, model_dir: Path, classifier, **settings):
    """The service on a temp SQLite file around `classifier`, a fake sender per channel, a manual clock and no
    background workers; returns (app, senders)."""
    from pvoice.serving import create_app
    from pvoice.serving.routing import CHANNELS

    senders = {c: FakeSender(c) for c in CHANNELS}
    app = create_app(make_settings(tmp_path, model_dir, **settings), clock=ManualClock(), senders=senders,
                     classifier=classifier, start_workers=False)
    return app, senders


def make_keys(app, roles=("intake", "agent", "manager", "admin")) -> dict[str, str]:
    """One key per role, in the running app's database; returns role -> clear key."""
    ctx = app.state.ctx
    with transaction(ctx.factory) as session:
        return add_role_keys(session, roles, pepper=ctx.settings.api_key_pepper, now=ctx.clock.now())


def add_role_keys(session, roles, *, pepper: str, now, prefix: str = "test") -> dict[str, str]:
    """One key per role through the key service, in `session`; returns role -> clear key."""
    return {role: create_key(session, role=role, name=f"{prefix}-{role}", pepper=pepper, now=now)[1]
            for role in roles}


def reset_postgres(url: str) -> str:
    """An empty public schema in the test database named by `url`; returns the URL."""
    from sqlalchemy import text

    from pvoice.serving.db import make_db_engine

    engine = make_db_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


class Harness:
    """A running app (inside `TestClient`) with a key per role and the delivery and SLA steps at hand."""

    def __init__(self, app, client):
        self.app, self.client = app, client
        self.keys = make_keys(app)

    @property
    def ctx(self):
        return self.app.state.ctx

    def headers(self, role: str) -> dict:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def get(self, role: str, path: str, **kw):
        return self.client.get(path, headers=self.headers(role), **kw)

    def post(self, role: str, path: str, json=None, **kw):
        return self.client.post(path, json=json, headers=self.headers(role), **kw)

    def comment(self, text: str, role: str = "intake", **fields) -> dict:
        item = {"text": text, "channel": "wechat", "received_at": "2026-03-02T09:00:00+08:00", **fields}
        response = self.post(role, "/v1/comments", {"comments": [item]})
        assert response.status_code == 200, response.text
        return response.json()["items"][0]

    def deliver(self) -> int:
        return self.app.state.delivery.deliver_due()

    def fire(self) -> int:
        from pvoice.serving.services.sla import fire_due_timers

        return fire_due_timers(self.ctx)
