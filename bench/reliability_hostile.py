"""Hostile inputs against the running service: lists with one bad item, huge integers, extreme dates, 100 MB
bodies without a key, a body that stops half-way, NUL and invisible-only texts, and a big /v1/classify beside
an urgent comment."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from reliability_support import (
    Counter, Receivers, Row, Server, comment, headers, list_alerts, urgent_text, wait_until,
)

HOSTILE = "hostile inputs"
BIG_INTS = [2**63, 2**63 + 1, 2**64, 10**30, -(2**63) - 1]
EXTREME_DATES = ["0001-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z",
                 "9999-12-31T23:59:59-14:00", "1970-01-01T00:00:00Z", "2026-02-30T00:00:00", "99999-01-01",
                 "-0001-01-01T00:00:00", "2026-03-02T09:00:00+99:00", "9" * 40]
# zero-width characters only: the usual ones, an invisible separator, bidi marks, a 5,000-long run
INVISIBLE = ["\u200b", "\u200b\u200c\u200d", "\ufeff\u2060", " \u200b \u200d ", "\u2063\u180e",
             "\u200e\u200f\u202a\u202c", "\u200b" * 5000]
MB = 1024 * 1024


class Hostile:
    def __init__(self, server: Server, receivers: Receivers, *, big_body_mb: int, body_timeout_s: float,
                 classify_texts: tuple[int, int] = (256, 1000)):
        self.server, self.receivers = server, receivers
        self.big_body_mb, self.body_timeout_s, self.classify_texts = big_body_mb, body_timeout_s, classify_texts
        self.row = Row(HOSTILE, faults="bad items, 2^63, dates, 100 MB, stalled body, NUL, invisible")
        self.count = Counter(self.row)
        self.client = httpx.Client(base_url=server.url, timeout=30)
        self.serial = 0

    # ---- helpers -------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, role: str | None, *, expect: str = "4xx", what: str = "",
                 **kw) -> httpx.Response | None:
        """One hostile request; `expect` "4xx" or "not 5xx"; `what` names the input in a failure."""
        self.row.inputs += 1
        try:
            extra = kw.pop("headers", {})
            response = self.client.request(method, path, headers={**headers(self.server.keys.get(role)), **extra}, **kw)
        except httpx.HTTPError as error:
            self.count.saw(method, path, None)
            self.row.fail(f"{method} {path[:120]}: no answer ({type(error).__name__})")
            return None
        self.count.saw(method, path[:120], response.status_code, response.text)
        if expect == "4xx" and not 400 <= response.status_code < 500:
            self.row.fail(f"{method} {path[:120]} {what} -> {response.status_code}, expected 4xx: "
                          f"{response.text[:120]}".replace("  ", " "))
        return response

    def _external_id(self, tag: str) -> str:
        self.serial += 1
        return f"hostile-{tag}-{self.serial}-{time.time_ns()}"

    def _created(self, item: dict) -> bool | None:
        response = self._request("POST", "/v1/comments", "intake", expect="not 5xx", json={"comments": [item]})
        if response is None or response.status_code != 200:
            return None
        return response.json()["items"][0]["created"]

    # ---- the inputs ----------------------------------------------------------------------------------
    def bad_third_item(self) -> None:
        """A list whose 3rd item is invalid is refused whole: re-posting the first two stores them anew."""
        for bad in [{"received_at": "9999-12-31T23:59:59Z"}, {"received_at": "0001-01-01T00:00:00"},
                    {"text": "带\x00空字符"}, {"text": "\u200b\u200d"}, {"channel": "carrier-pigeon"}]:
            items = [comment(urgent_text("urgent", 0), self._external_id("ok")),
                     comment("停车场能不能多加点车位", self._external_id("ok")),
                     {**comment("第三条", self._external_id("bad")), **bad}]
            response = self._request("POST", "/v1/comments", "intake", json={"comments": items},
                                     what=f"with 3rd item {bad!r}")
            if response is None:
                continue
            for item in items[:2]:
                created = self._created(item)
                if created is False:
                    self.row.fail(f"POST /v1/comments with 3rd item {bad!r} -> {response.status_code}, "
                                  f"yet item {item['external_id']} was stored")

    def big_integers(self) -> None:
        for n in BIG_INTS:
            paths = [("GET", f"/v1/comments/{n}", "manager"), ("GET", f"/v1/comments/{n}/labels", "manager"),
                     ("GET", f"/v1/cases/{n}", "agent"), ("POST", f"/v1/cases/{n}/ack", "agent"),
                     ("POST", f"/v1/alerts/{n}/retry", "admin"), ("DELETE", f"/v1/keys/{n}", "admin")]
            for method, path, role in paths:
                self._request(method, path, role, what=f"as {role}")
            for path, params, role in [("/v1/cases", {"offset": n}, "agent"), ("/v1/cases", {"limit": n}, "agent"),
                                       ("/v1/alerts", {"case_id": n}, "admin"), ("/v1/alerts", {"offset": n}, "admin")]:
                self._request("GET", path, role, params=params, what=f"{params}")
            self._request("POST", f"/v1/comments/{n}/labels", "manager",
                          json={"touchpoints": ["nursing"], "aspects": {"nursing": "negative"}, "sentiment": "negative",
                                "urgency": "urgent", "urgent_reasons": ["safety"]})

    def extreme_dates(self) -> None:
        for when in EXTREME_DATES:
            for name in ("created_from", "created_to"):
                self._request("GET", "/v1/cases", "agent", expect="not 5xx", params={name: when})
            self._request("POST", "/v1/comments", "intake", expect="not 5xx", what=f"received_at={when}",
                          json={"comments": [comment("挂号处还可以", self._external_id("date"), received_at=when)]})

    def nul_and_invisible(self) -> None:
        for text in ["\x00", "护士\x00输错", "\x00" * 100]:
            what = f"text={text[:12]!r}"
            self._request("POST", "/v1/comments", "intake", what=what,
                          json={"comments": [comment(text, self._external_id("nul"))]})
            self._request("POST", "/v1/classify", "intake", what=what, json={"texts": [text]})
        self._request("POST", "/v1/comments", "intake",
                      json={"comments": [comment("正常", self._external_id("nul"), department="心内科\x00")]})
        self._request("GET", "/v1/cases", "agent", params={"department": "心\x00内科"})
        self._request("GET", "/v1/cases/%00", "agent")
        self._request("POST", "/v1/comments", "intake", content=b'{"comments": [{"te\\u0000xt": "x"}]}',
                      headers={"Content-Type": "application/json"})
        for text in INVISIBLE:
            what = f"text={text[:12]!r}" + (f" x{len(text)}" if len(text) > 12 else "")
            self._request("POST", "/v1/comments", "intake", what=what,
                          json={"comments": [comment(text, self._external_id("zw"))]})
            self._request("POST", "/v1/classify", "intake", what=what, json={"texts": [text]})

    # ---- bodies on a raw socket ----------------------------------------------------------------------
    def _raw(self, head: str, body_bytes: int, *, chunked: bool = False) -> tuple[int | None, int, float]:
        """Send `head`, then up to `body_bytes` of body as fast as the server takes it; returns the status
        answered (None: none), the bytes it took and the seconds until the answer or the close."""
        started = time.monotonic()
        sent, status = 0, None
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=60) as sock:
            sock.sendall(head.encode("latin-1"))
            piece = b"x" * MB
            try:
                while sent < body_bytes:
                    chunk = piece[: min(MB, body_bytes - sent)]
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                    sent += len(chunk)
                if chunked:
                    sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the server answered and closed before taking it all: what we want
            try:
                reply = sock.recv(4096)
                if reply.startswith(b"HTTP/1.1 "):
                    status = int(reply[9:12])
            except OSError:
                pass
        return status, sent, time.monotonic() - started

    def _head(self, *, length: int | None, key: str | None) -> str:
        lines = ["POST /v1/comments HTTP/1.1", f"Host: 127.0.0.1:{self.server.port}", "Content-Type: application/json"]
        lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
        if key:
            lines.append(f"Authorization: Bearer {key}")
        return "\r\n".join(lines) + "\r\n\r\n"

    def big_bodies(self) -> None:
        """100 MB without a key (declared and chunked), and with a key: refused early, memory flat."""
        size = self.big_body_mb * MB
        before = peak = self.server.rss_mb()
        done = threading.Event()

        def watch():
            nonlocal peak
            while not done.is_set():
                peak = max(peak, self.server.rss_mb())
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        cases = [("no key, Content-Length", self._head(length=size, key=None), False, 401),
                 ("no key, chunked", self._head(length=None, key=None), True, 401),
                 ("bad key, Content-Length", self._head(length=size, key="pv_wrong"), False, 401),
                 ("intake key, Content-Length", self._head(length=size, key=self.server.keys["intake"]), False, 413),
                 ("intake key, chunked", self._head(length=None, key=self.server.keys["intake"]), True, 413)]
        try:
            for name, head, chunked, expected in cases:
                self.row.inputs += 1
                status, sent, seconds = self._raw(head, size, chunked=chunked)
                self.count.saw("POST", f"/v1/comments ({self.big_body_mb} MB, {name})", status)
                self.row.notes.append(f"{self.big_body_mb} MB body, {name}: {status}; {sent / MB:.0f} MB went "
                                      f"into the socket before the answer or the close, {seconds:.1f} s")
                if status != expected:
                    self.row.fail(f"POST /v1/comments with {self.big_body_mb} MB body ({name}) -> {status}, "
                                  f"expected {expected}")
        finally:
            done.set()
            watcher.join()
        after = self.server.rss_mb()
        self.row.notes.append(f"server RSS around the {self.big_body_mb} MB bodies: {before:.0f} MB before, "
                              f"peak {peak:.0f} MB, {after:.0f} MB after")
        if peak - before > 64:
            self.row.fail(f"server RSS grew {peak - before:.0f} MB on {self.big_body_mb} MB bodies (limit 64 MB)")

    def stalled_body(self) -> None:
        """A body that stops after 10 of 1,000 bytes: dropped within the body timeout (and a margin)."""
        self.row.inputs += 1
        bound = self.body_timeout_s + 5
        started = time.monotonic()
        status = None
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=bound + 30) as sock:
            sock.sendall(self._head(length=1000, key=self.server.keys["intake"]).encode() + b'{"comments"')
            try:
                reply = sock.recv(4096)  # blocks until the server answers or closes
                status = int(reply[9:12]) if reply.startswith(b"HTTP/1.1 ") else None
            except (OSError, ValueError):
                pass
        seconds = time.monotonic() - started
        self.count.saw("POST", "/v1/comments (stalled body)", status)
        self.row.notes.append(f"body stalled after 11 of 1000 bytes: {status} after {seconds:.1f} s "
                              f"(body timeout {self.body_timeout_s:g} s)")
        if seconds > bound:
            self.row.fail(f"stalled body held {seconds:.0f} s, more than {bound:.0f} s")

    def classify_beside_urgent(self) -> None:
        """Many long texts with evidence (256 of 1,000 characters in the full run) and, while they are
        classified, an urgent comment: it must not wait for them, and its alert must arrive."""
        pool = "护士医生挂号排队等了很久检查报告药房收费态度环境病房床位电梯停车还可以不满意希望改进，。"
        texts, chars = self.classify_texts
        batch = [("".join(pool[(i * 7 + j * 13) % len(pool)] for j in range(chars))) for i in range(texts)]
        self.row.inputs += 2
        with ThreadPoolExecutor(2) as executor:
            started = time.monotonic()
            big = executor.submit(self.client.post, "/v1/classify", json={"texts": batch, "evidence": True},
                                  headers=headers(self.server.keys["intake"]), timeout=300)
            time.sleep(0.5)  # let the classify get going first
            external_id = self._external_id("urgent")
            urgent_started = time.monotonic()
            body = {"comments": [comment(urgent_text("urgent", 1), external_id)]}
            try:
                urgent = self.client.post("/v1/comments", json=body, headers=headers(self.server.keys["intake"]),
                                          timeout=300)
            except httpx.HTTPError as error:
                urgent = None
                self.row.fail(f"urgent POST /v1/comments beside the classify: no answer ({type(error).__name__})")
            urgent_s = time.monotonic() - urgent_started
            try:
                big_response = big.result()
                big_status, big_s = big_response.status_code, time.monotonic() - started
            except httpx.HTTPError as error:
                big_status, big_s = None, time.monotonic() - started
                self.row.fail(f"POST /v1/classify ({texts} x {chars} chars, evidence): no answer ({error})")
        self.count.saw("POST", f"/v1/classify ({texts} x {chars} chars, evidence)", big_status)
        if urgent is None:
            self.row.lost_comments += 1
            return
        self.count.saw("POST", "/v1/comments (urgent, beside the classify)", urgent.status_code, urgent.text)
        self.row.notes.append(f"urgent POST /v1/comments beside a {texts} x {chars}-char classify with evidence: "
                              f"{urgent_s:.2f} s (the classify: {big_status} in {big_s:.1f} s)")
        if urgent.status_code != 200:
            self.row.lost_comments += 1
            self.row.fail(f"urgent POST /v1/comments beside the classify -> {urgent.status_code}")
            return
        if big_status == 200 and urgent_s > max(2.0, big_s / 2):
            self.row.fail(f"the urgent comment took {urgent_s:.1f} s beside a classify of {big_s:.1f} s: it waited")
        case = urgent.json()["items"][0].get("case") or {}
        if not case:
            self.row.fail("the urgent comment opened no case")
            return
        def arrived() -> bool:
            keys = {a["idempotency_key"] for a in list_alerts(self.client, self.server.keys["admin"], {case["id"]})}
            return bool(keys) and keys <= set(self.receivers.arrivals())

        if not wait_until(arrived, 30, poll=0.5):
            self.row.lost_alerts += 1
            self.row.fail(f"the urgent comment's alert (case {case['id']}) did not arrive within 30 s")

    def run(self) -> Row:
        for step in (self.bad_third_item, self.big_integers, self.extreme_dates, self.nul_and_invisible,
                     self.big_bodies, self.stalled_body, self.classify_beside_urgent):
            try:
                step()
            except (OSError, httpx.HTTPError) as error:  # the server stopped answering: a finding; go on
                self.row.fail(f"{step.__name__}: stopped by {type(error).__name__}: {error}")
        ready = self._request("GET", "/readyz", None, expect="not 5xx")
        if ready is not None and ready.status_code != 200:
            self.row.fail(f"/readyz after the hostile inputs: {ready.status_code} {ready.text[:160]}")
        return self.row
