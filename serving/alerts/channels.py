"""Alert senders, one per channel: WeCom and DingTalk group robots, a generic JSON webhook, e-mail over SMTP.

Each sender takes one batch of alerts bound for ONE target and either delivers all of it or raises
`DeliveryError`, which says whether a retry can help, after how long, and which alerts of the batch had
already arrived before the failure (so the caller need not send those twice). Senders are synchronous and
safe to share between threads.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import parse_qs, quote_plus, urlsplit
from zoneinfo import ZoneInfo

import httpx

from pvoice.serving.alerts.message import CHANNELS, AlertMessage
from pvoice.serving.alerts.formatting import Chunk, batch_key, build_email, one_line, pack_markdown
from pvoice.serving.alerts.ratelimit import SlidingWindowLimiter

if TYPE_CHECKING:
    from pvoice.settings import Settings

ROBOT_MAX_BYTES = 4096  # WeCom's markdown limit; DingTalk allows more, one limit keeps both simple
ROBOT_BACKOFF_S = 60.0  # a robot that says "too fast" counts over a minute
WEBHOOK_MAX_BATCH = 50
_ADDRESS = re.compile(r"[^@\s<>,;\"']+@[^@\s<>,;\"']+")


class DeliveryError(Exception):
    """A batch did not (fully) arrive.

    code: a short stable name for metrics ("rate_limited", "timeout", "connection", "unavailable", "rejected",
    "bad_response", "robot_error", "invalid_target", "target_not_allowed", "invalid_batch", "smtp_temporary",
    "smtp_rejected", "smtp_auth", "smtp_tls"). retryable: whether the same batch may succeed later.
    retry_after: seconds to wait at least, when the receiver or the rate limiter said so.
    delivered: idempotency keys of this batch that did arrive before the failure.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        retryable: bool,
        retry_after: float | None = None,
        delivered: Sequence[str] = (),
    ):
        super().__init__(message)
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after
        self.delivered = tuple(delivered)


class Sender(Protocol):
    channel: str

    def send(self, messages: list[AlertMessage]) -> None: ...


class Limiter(Protocol):
    limit: int

    def try_acquire(self, key: str) -> float: ...


def idempotency_headers(messages: Sequence[AlertMessage]) -> dict[str, str]:
    """Every HTTP post names what it carries, so a receiver (or a proxy's log) can drop a repeat."""
    key = batch_key(messages)
    return {"Idempotency-Key": key, "X-PVoice-Idempotency-Key": key}


# ---- helpers shared by the senders -----------------------------------------------------------------------------
def _target_of(messages: Sequence[AlertMessage], channel: str) -> str:
    if not messages:
        raise DeliveryError("empty batch", code="invalid_batch", retryable=False)
    target = messages[0].target
    if any(m.channel != channel or m.target != target for m in messages):
        raise DeliveryError(
            f"a {channel} batch must hold alerts of that channel for one target", code="invalid_batch", retryable=False
        )
    return target


def _unique(messages: Sequence[AlertMessage]) -> list[AlertMessage]:
    first: dict[str, AlertMessage] = {}
    for message in messages:
        first.setdefault(message.idempotency_key, message)
    return list(first.values())


def _redact(url: str) -> str:
    # Robot URLs carry their access token in the query; errors end up in the database and the API.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _deliver(chunks: Sequence[Chunk], send_one: Callable[[Chunk], None]) -> None:
    delivered: list[str] = []
    for chunk in chunks:
        try:
            send_one(chunk)
        except DeliveryError as exc:
            exc.delivered = tuple(delivered)
            raise
        delivered.extend(chunk.keys)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header, given as seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max((when - (now or datetime.now(timezone.utc))).total_seconds(), 0.0)


def _check_status(response: httpx.Response, where: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429:
        raise DeliveryError(f"{where}: HTTP 429", code="rate_limited", retryable=True, retry_after=retry_after)
    if status == 408 or status >= 500:
        raise DeliveryError(f"{where}: HTTP {status}", code="unavailable", retryable=True, retry_after=retry_after)
    raise DeliveryError(f"{where}: HTTP {status} {response.text[:200]!r}", code="rejected", retryable=False)


# ---- HTTP senders ----------------------------------------------------------------------------------------------
class _HttpSender:
    channel: ClassVar[str]

    def __init__(self, *, timeout: float, allowed_hosts: Sequence[str], client: httpx.Client | None = None):
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._allowed = {host.lower().strip("[]") for host in allowed_hosts}

    def check_target(self, target: str) -> None:
        """Raise a permanent DeliveryError for a URL this sender must not or cannot post to."""
        try:
            url = httpx.URL(target)
        except (httpx.InvalidURL, TypeError) as exc:
            raise DeliveryError(f"not a URL: {exc}", code="invalid_target", retryable=False) from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise DeliveryError(f"{_redact(target)}: need an http(s) URL", code="invalid_target", retryable=False)
        if "*" not in self._allowed and url.host.lower() not in self._allowed:
            raise DeliveryError(
                f"{url.host} is not in alert_allowed_hosts (PVOICE_ALERT_ALLOWED_HOSTS)",
                code="target_not_allowed",
                retryable=False,
            )

    def close(self) -> None:
        self._client.close()

    def _post(self, url: str, *, where: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.post(url, **kwargs)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"{where}: timed out", code="timeout", retryable=True) from exc
        except httpx.TransportError as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}", code="connection", retryable=True) from exc
        _check_status(response, where)
        return response


class _RobotSender(_HttpSender):
    """A group robot: markdown messages, packed under the byte limit, at most N a minute per robot.

    Each alert's block ends with a `ref: <idempotency key>` line, and each post carries `Idempotency-Key` and
    `X-PVoice-Idempotency-Key` headers (the batch key of the alerts in it), so a repeat after a lost reply can
    be told apart by a person reading the group as by a receiver.
    """

    rate_limit_errcodes: ClassVar[frozenset[int]]
    busy_errcodes: ClassVar[frozenset[int]] = frozenset({-1})  # "system busy" on both platforms
    max_bytes: ClassVar[int] = ROBOT_MAX_BYTES

    def __init__(self, *, limiter: Limiter, tz: tzinfo | None = None, **http: Any):
        super().__init__(**http)
        self.limiter = limiter  # the delivery worker puts one kept in the database here, shared by processes
        self._tz = tz

    def send(self, messages: list[AlertMessage]) -> None:
        target = _target_of(messages, self.channel)
        self.check_target(target)
        # Packing as many alerts as fit into each message is what keeps a burst under the robot's limit.
        chunks = pack_markdown(_unique(messages), max_bytes=self.max_bytes, tz=self._tz)
        _deliver(chunks, lambda chunk: self._send_chunk(target, chunk))

    def _send_chunk(self, target: str, chunk: Chunk) -> None:
        where = _redact(target)
        try:
            wait = self.limiter.try_acquire(target)
        except Exception as exc:  # noqa: BLE001 - the shared window's store is away: try again later
            raise DeliveryError(
                f"{where}: rate window unavailable: {type(exc).__name__}", code="limiter_unavailable", retryable=True
            ) from exc
        if wait:
            raise DeliveryError(
                f"{where}: {self.limiter.limit} messages a minute already sent; next slot in {wait:.1f}s",
                code="rate_limited",
                retryable=True,
                retry_after=wait,
            )
        body = json.dumps(self._payload(chunk), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", **idempotency_headers(chunk.messages)}
        response = self._post(self._url(target), where=where, content=body, headers=headers)
        self._check_reply(response, where)

    def _check_reply(self, response: httpx.Response, where: str) -> None:
        try:
            reply = response.json()
            errcode = int(reply["errcode"])
        except (ValueError, TypeError, KeyError) as exc:
            raise DeliveryError(
                f"{where}: not a robot reply: {response.text[:200]!r}", code="bad_response", retryable=True
            ) from exc
        if errcode == 0:
            return
        detail = f"{where}: errcode {errcode} {reply.get('errmsg', '')}"
        if errcode in self.rate_limit_errcodes:
            raise DeliveryError(detail, code="rate_limited", retryable=True, retry_after=ROBOT_BACKOFF_S)
        if errcode in self.busy_errcodes:
            raise DeliveryError(detail, code="unavailable", retryable=True)
        raise DeliveryError(detail, code="robot_error", retryable=False)

    def _url(self, target: str) -> str:
        return target

    def _payload(self, chunk: Chunk) -> dict[str, Any]:
        raise NotImplementedError


class WeComSender(_RobotSender):
    """企业微信 group robot: POST {"msgtype": "markdown", ...} to the robot's webhook URL."""

    channel = "wecom"
    rate_limit_errcodes = frozenset({45009})

    def _payload(self, chunk: Chunk) -> dict[str, Any]:
        return {"msgtype": "markdown", "markdown": {"content": chunk.text}}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature: base64(HmacSHA256(key=secret, timestamp + "\\n" + secret)), not yet URL-encoded."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp_ms}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def dingtalk_signed_url(target: str, secret: str, timestamp_ms: int) -> str:
    joiner = "&" if urlsplit(target).query else ("" if target.endswith("?") else "?")
    sign = quote_plus(dingtalk_sign(secret, timestamp_ms))
    return f"{target}{joiner}timestamp={timestamp_ms}&sign={sign}"


class DingTalkSender(_RobotSender):
    """钉钉 group robot: markdown messages; URLs are signed when a secret is configured for the robot.

    `secrets` maps a robot's webhook URL, or just its access_token, to its "加签" secret (SEC...). A robot
    without a secret is posted to unsigned (it must then be protected by keyword or IP allowlist instead).
    """

    channel = "dingtalk"
    rate_limit_errcodes = frozenset({130101})

    def __init__(self, *, secrets: Mapping[str, str] | None = None, clock: Callable[[], float] = time.time, **kw: Any):
        super().__init__(**kw)
        self._secrets = dict(secrets or {})
        self._clock = clock

    def secret_for(self, target: str) -> str | None:
        if target in self._secrets:
            return self._secrets[target]
        token = parse_qs(urlsplit(target).query).get("access_token", [""])[0]
        return self._secrets.get(token) if token else None

    def _url(self, target: str) -> str:
        secret = self.secret_for(target)
        if secret is None:
            return target
        return dingtalk_signed_url(target, secret, int(self._clock() * 1000))

    def _payload(self, chunk: Chunk) -> dict[str, Any]:
        first = one_line(chunk.messages[0].title)
        title = first if len(chunk.messages) == 1 else f"{first} (+{len(chunk.messages) - 1})"
        return {"msgtype": "markdown", "markdown": {"title": title, "text": chunk.text}}


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-PVoice-Signature value: "sha256=" + hex HmacSHA256(secret, timestamp + "." + body)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _as_json(message: AlertMessage) -> dict[str, str]:
    return {
        "idempotency_key": message.idempotency_key,
        "case_id": message.case_id,
        "event": message.event,
        "urgency": message.urgency,
        "title": message.title,
        "body_markdown": message.body_markdown,
        "created_at": message.created_at.isoformat(),
    }


class WebhookSender(_HttpSender):
    """A generic JSON webhook: POST {"idempotency_key", "messages": [...]} per batch of at most 50 alerts.

    The `Idempotency-Key` and `X-PVoice-Idempotency-Key` headers equal the body's idempotency_key: the alert's
    own key for a batch of one, else "batch-" + a digest of the sorted alert keys. Batches may regroup between retries, so receivers
    should de-duplicate on each `messages[].idempotency_key`. With a secret, `X-PVoice-Timestamp` (unix
    seconds) and `X-PVoice-Signature` (see `webhook_signature`) let the receiver check origin and freshness.
    """

    channel = "webhook"

    def __init__(self, *, secret: str | None = None, clock: Callable[[], float] = time.time, **http: Any):
        super().__init__(**http)
        self._secret = secret
        self._clock = clock

    def send(self, messages: list[AlertMessage]) -> None:
        target = _target_of(messages, self.channel)
        self.check_target(target)
        unique = _unique(messages)
        chunks = [self._chunk(unique[i : i + WEBHOOK_MAX_BATCH]) for i in range(0, len(unique), WEBHOOK_MAX_BATCH)]
        _deliver(chunks, lambda chunk: self._post(target, where=_redact(target), **self._request(chunk)))

    def _chunk(self, group: Sequence[AlertMessage]) -> Chunk:
        payload = {"idempotency_key": batch_key(group), "messages": [_as_json(m) for m in group]}
        return Chunk(tuple(group), json.dumps(payload, ensure_ascii=False))

    def _request(self, chunk: Chunk) -> dict[str, Any]:
        body = chunk.text.encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", **idempotency_headers(chunk.messages)}
        if self._secret:
            timestamp = str(int(self._clock()))
            headers["X-PVoice-Timestamp"] = timestamp
            headers["X-PVoice-Signature"] = webhook_signature(self._secret, timestamp, body)
        return {"content": body, "headers": headers}


# ---- e-mail ----------------------------------------------------------------------------------------------------
class EmailSender:
    """One e-mail per batch to the target address, over SMTP (STARTTLS and login when configured)."""

    channel = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        timeout: float,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        tz: tzinfo | None = None,
    ):
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout
        self._user, self._password, self._starttls, self._tz = user, password, starttls, tz

    def check_target(self, target: str) -> None:
        if not _ADDRESS.fullmatch(target):
            raise DeliveryError(f"not a bare e-mail address: {target!r}", code="invalid_target", retryable=False)

    def close(self) -> None:
        """Nothing to release: each batch opens and closes its own SMTP connection."""

    def send(self, messages: list[AlertMessage]) -> None:
        target = _target_of(messages, self.channel)
        self.check_target(target)
        email = build_email(
            _unique(messages), sender=self.sender, recipient=target, tz=self._tz, now=datetime.now(timezone.utc)
        )
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self._starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._user:
                    smtp.login(self._user, self._password or "")
                smtp.send_message(email, to_addrs=[target])
        except (smtplib.SMTPException, OSError) as exc:
            raise _smtp_error(exc, f"smtp://{self.host}:{self.port}") from exc


def _smtp_error(exc: smtplib.SMTPException | OSError, where: str) -> DeliveryError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = min(exc.recipients.values())
        return _smtp_reply_error(code, reply, where)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return DeliveryError(f"{where}: login refused: {exc.smtp_code}", code="smtp_auth", retryable=False)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(f"{where}: {exc}", code="smtp_tls", retryable=False)
    if isinstance(exc, smtplib.SMTPResponseException):
        return _smtp_reply_error(exc.smtp_code, exc.smtp_error, where)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(f"{where}: {exc}", code="smtp_tls", retryable=False)
    # Disconnects, refused connections, timeouts: the server may well be back later.
    return DeliveryError(f"{where}: {type(exc).__name__}: {exc}", code="connection", retryable=True)


def _smtp_reply_error(code: int, reply: bytes | str, where: str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    if 400 <= code < 500:
        return DeliveryError(f"{where}: {code} {text}", code="smtp_temporary", retryable=True)
    return DeliveryError(f"{where}: {code} {text}", code="smtp_rejected", retryable=False)


# ---- wiring ----------------------------------------------------------------------------------------------------
def build_senders(settings: Settings) -> dict[str, Sender]:
    """One sender per channel, configured from settings; the two robots share one per-URL rate limiter."""
    tz = ZoneInfo(settings.timezone)  # the hospital's zone, as on-duty hours are read
    limiter = SlidingWindowLimiter(settings.alert_rate_limit_per_minute)
    # One connection pool for the three HTTP senders; httpx clients are safe to share between threads.
    client = httpx.Client(timeout=settings.alert_timeout_s, follow_redirects=False)
    http = {"timeout": settings.alert_timeout_s, "allowed_hosts": settings.alert_allowed_hosts, "client": client}
    secret = settings.alert_webhook_secret
    password = settings.smtp_password
    return {
        "wecom": WeComSender(limiter=limiter, tz=tz, **http),
        "dingtalk": DingTalkSender(
            limiter=limiter,
            tz=tz,
            secrets={url: value.get_secret_value() for url, value in settings.alert_dingtalk_secrets.items()},
            **http,
        ),
        "webhook": WebhookSender(secret=secret.get_secret_value() if secret else None, **http),
        "email": EmailSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            timeout=settings.alert_timeout_s,
            user=settings.smtp_user,
            password=password.get_secret_value() if password else None,
            starttls=settings.smtp_starttls,
            tz=tz,
        ),
    }


def close_senders(senders: Mapping[str, Sender]) -> None:
    """Release the senders' connection pools (call once at shutdown)."""
    for sender in senders.values():
        close = getattr(sender, "close", None)
        if close is not None:
            close()
