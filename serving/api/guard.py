"""The request guard, a pure ASGI middleware around every request.

In order: a request id; the key of every `/v1/` request is checked from the headers alone, before a byte of
the body is read (an unauthenticated 100 MB post costs nothing); the declared and the actual body size are held
to `max_body_bytes`; a body that stops arriving is cut off after `body_timeout_s`; and an unexpected error
becomes a logged, counted 500 on a connection that stays open. Each request is logged once and timed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pvoice.serving.errors import BodyTimeout, DomainError, PayloadTooLarge, domain_response, internal_error
from pvoice.serving.services.auth import Principal

log = logging.getLogger("pvoice.serving")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class _Refused(Exception):
    def __init__(self, error: DomainError):
        self.error = error


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def request_id_of(scope: Scope) -> str:
    given = _header(scope, b"x-request-id")
    return given if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]


class RequestGuard:
    def __init__(self, app: ASGIApp, *, authenticate, max_body_bytes: int, body_timeout_s: float,
                 metrics=lambda: None):
        """`authenticate(app, header)` returns the Principal of an Authorization header or raises
        Unauthorized; `metrics()` returns the app's Metrics once it has started."""
        self.app, self.authenticate, self.metrics = app, authenticate, metrics
        self.max_body_bytes, self.body_timeout_s = max_body_bytes, body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started, status = time.perf_counter(), [0]
        refusal: list[DomainError] = []  # set while the body is read: the app's own answer is then dropped

        async def send_tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        async def send_from_app(message: Message) -> None:
            if not refusal:
                await send_tagged(message)

        try:
            await self._admit(scope)
            await self.app(scope, self._limited(receive, refusal), send_from_app)
        except _Refused as refused:
            refusal[:] = refusal or [refused.error]
        except Exception as error:  # noqa: BLE001 - the last resort: answer, log and count, keep serving
            if not status[0]:
                response = internal_error(error, request_id=request_id, route=self._route(scope))
                await response(scope, receive, send_tagged)
        finally:
            if refusal and not status[0]:
                await domain_response(refusal[0])(scope, receive, send_tagged)
            self._observe(scope, status[0], time.perf_counter() - started, request_id)

    async def _admit(self, scope: Scope) -> None:
        if scope["path"].startswith("/v1/") or scope["path"] == "/v1":
            try:
                principal: Principal = await run_in_threadpool(
                    self.authenticate, scope["app"], _header(scope, b"authorization"))
            except DomainError as error:
                raise _Refused(error) from None
            scope["state"]["principal"] = principal
            scope["state"]["actor"] = principal.actor
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise _Refused(self._too_large())

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"request body over {self.max_body_bytes} bytes (PVOICE_MAX_BODY_BYTES)")

    def _limited(self, receive: Receive, refusal: list[DomainError]) -> Receive:
        received, finished = [0], [False]
        deadline = time.monotonic() + self.body_timeout_s

        async def limited() -> Message:
            if finished[0]:
                return await receive()  # after the body, only a disconnect can come: no deadline on it
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0.001))
            except TimeoutError:
                refusal.append(BodyTimeout(f"request body not received within {self.body_timeout_s:g} s"))
                raise _Refused(refusal[0]) from None
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > self.max_body_bytes:
                    refusal.append(self._too_large())
                    raise _Refused(refusal[0])
                finished[0] = not message.get("more_body", False)
            return message

        return limited

    @staticmethod
    def _route(scope: Scope) -> str:
        return getattr(scope.get("route"), "path", "unmatched")

    def _observe(self, scope: Scope, status: int, elapsed: float, request_id: str) -> None:
        route = self._route(scope)
        metrics = self.metrics()
        if metrics is not None:
            metrics.latency.labels(scope["method"], route, str(status)).observe(elapsed)
            if status >= 500:
                metrics.server_errors.labels(route, str(status)).inc()
        log.info("request", extra={"method": scope["method"], "route": route, "status": status,
                                   "ms": round(elapsed * 1000, 2), "actor": scope["state"].get("actor"),
                                   "request_id": request_id})
