"""Delivery under faults, against the running service and the bench's receivers: a slow receiver beside a fast
one, a receiver down for ten minutes of the service's clock, kill -9 while alerts are in flight, and a full
disk. Each checks that every alert of its cases arrives (lost: never arrived, or dead), counts the repeats of
each idempotency key, and that no comment answered 200 is missing afterwards."""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass

import httpx

from reliability_support import (
    Counter, Receivers, Row, Server, comment, headers, list_alerts, urgent_text, wait_until,
)

SLOW, DOWN, KILL, DISK = "slow receiver", "receiver down", "kill -9", "full disk"


@dataclass
class Plan:
    """How much of each fault; real seconds unless said."""

    slow_s: float  # the slow receiver holds each post this long
    slow_posts: int
    fast_posts: int
    fast_bound_s: float  # the fast target's alert arrives within this of its comment
    down_clock_s: float  # service-clock seconds the receiver is down
    down_comments: int
    kill_comments: int
    disk_comments: int
    settle_s: float  # how long alerts may take to arrive once nothing is in their way
    lease_s: float  # the service's alert lease, in real seconds: a killed send is retried after it


class Delivery:
    def __init__(self, server: Server, receivers: Receivers, plan: Plan):
        self.server, self.receivers, self.plan = server, receivers, plan
        self.client = httpx.Client(base_url=server.url, timeout=30)
        self.serial = 0

    # ---- helpers -------------------------------------------------------------------------------------
    def _post(self, count: Counter, items: list[dict], role: str = "intake") -> httpx.Response | None:
        try:
            response = self.client.post("/v1/comments", json={"comments": items},
                                        headers=headers(self.server.keys[role]))
        except httpx.HTTPError as error:
            count.saw("POST", "/v1/comments", None)
            count.row.notes.append(f"POST /v1/comments: no answer ({type(error).__name__})")
            return None
        count.saw("POST", "/v1/comments", response.status_code, response.text)
        return response

    def _try(self, row: Row, method: str, path: str, role: str | None = None, **kw) -> httpx.Response | None:
        """A request whose failure to answer is a finding, not the end of the scenario."""
        try:
            return self.client.request(method, path, headers=headers(self.server.keys.get(role)), **kw)
        except httpx.HTTPError as error:
            row.load += 1
            row.fail(f"{method} {path}: no answer ({type(error).__name__})")
            return None

    def _ready(self) -> bool:
        try:
            return self.client.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def _items(self, lane: str, n: int) -> list[dict]:
        items = []
        for _ in range(n):
            self.serial += 1
            items.append(comment(urgent_text(lane, self.serial), f"rel-{lane}-{self.serial}-{time.time_ns()}"))
        return items

    def _urgent(self, count: Counter, lane: str, n: int, stored: dict) -> list[int]:
        """Post `n` urgent comments of `lane` in one list; `stored` gets external_id -> (comment id, text) of
        each answered 200; returns their case ids (a missing case is a failure)."""
        items = self._items(lane, n)
        count.row.inputs += n
        response = self._post(count, items)
        if response is None or response.status_code != 200:
            count.row.fail(f"POST /v1/comments ({n} urgent, {lane}) -> "
                           f"{getattr(response, 'status_code', None)} {getattr(response, 'text', '')[:160]}")
            return []
        cases = []
        for item, result in zip(items, response.json()["items"]):
            stored[item["external_id"]] = (result["id"], item["text"])
            if result.get("case"):
                cases.append(result["case"]["id"])
            else:
                count.row.fail(f"urgent comment {result['id']} ({lane}) opened no case")
        return cases

    def _outcome(self, row: Row, cases: set[int] | None, *, wait_s: float) -> None:
        """Wait up to `wait_s` for every alert of `cases` (None: every alert) to arrive, then count lost and
        repeated ones."""
        admin = self.server.keys["admin"]

        def rows() -> list[dict]:
            return list_alerts(self.client, admin, cases)

        def settled() -> bool:
            arrived = self.receivers.arrivals()
            current = rows()
            return all(r["idempotency_key"] in arrived and r["status"] == "delivered" for r in current)

        wait_until(settled, wait_s, poll=0.5)
        current, arrived = rows(), self.receivers.arrivals()
        row.load += 1
        opened = {r["case_id"] for r in current if r["event"] == "opened"}
        for case_id in sorted((cases or set()) - opened):
            row.lost_alerts += 1
            row.fail(f"case {case_id}: no alert was written")
        for r in current:
            if r["idempotency_key"] not in arrived:
                row.lost_alerts += 1
                if sum("never arrived" in f for f in row.failures) < 10:
                    row.fail(f"alert {r['id']} ({r['event']}, case {r['case_id']}) never arrived: {r['status']}, "
                             f"{r['attempts']} attempts, {r['last_error_code']}: {(r['last_error'] or '')[:100]}")
            elif r["status"] != "delivered":
                row.fail(f"alert {r['id']} arrived but is {r['status']} ({r['last_error_code']})")
        dead = [r for r in current if r["status"] == "dead"]
        if dead:
            row.fail(f"{len(dead)} alerts dead")
        row.duplicated += sum(arrived.get(r["idempotency_key"], 0) - 1 for r in current
                              if arrived.get(r["idempotency_key"], 0) > 1)
        row.notes.append(f"{row.scenario}: {len(current)} alerts of {len({r['case_id'] for r in current})} cases "
                         f"({sum(r['event'] == 'opened' for r in current)} opened, the rest escalations)")

    def _intact(self, row: Row, stored: dict) -> None:
        """Every comment answered 200 is there, with its text."""
        for external_id, (comment_id, text) in stored.items():
            row.load += 1
            response = self._try(row, "GET", f"/v1/comments/{comment_id}", "manager")
            if response is None or response.status_code != 200 or response.json().get("text") != text:
                row.lost_comments += 1
                row.fail(f"comment {comment_id} ({external_id}) answered 200 before, now "
                         f"{getattr(response, 'status_code', None)}")

    # ---- scenarios -----------------------------------------------------------------------------------
    def slow_receiver(self) -> Row:
        """While one target holds each post `slow_s`, another target's alerts arrive within `fast_bound_s`."""
        plan = self.plan
        row = Row(SLOW, faults=f"1 target {plan.slow_s:g} s per post")
        count, stored = Counter(row), {}
        slow, fast = self.receivers["slow"], self.receivers["fast"]
        slow.delay_s = plan.slow_s
        cases = set()
        try:
            for _ in range(plan.slow_posts):
                cases |= set(self._urgent(count, "slow", 1, stored))
            if not wait_until(lambda: slow.keys(), 15):
                row.fail("the slow receiver got nothing within 15 s")
            delays = []
            for _ in range(plan.fast_posts):
                before = len(fast.keys())
                posted = time.monotonic()
                new = self._urgent(count, "fast", 1, stored)
                cases |= set(new)
                wait_until(lambda: len(fast.keys()) > before, plan.slow_s * (plan.slow_posts + 1) + 15, poll=0.02)
                arrived = fast.arrivals[before].at if len(fast.keys()) > before else None
                delays.append(arrived - posted if arrived else float("inf"))
                time.sleep(max(0.0, 1.0 - (time.monotonic() - posted)))
            worst = max(delays) if delays else float("nan")
            row.notes.append(f"fast target's alert, comment posted to arrival, beside a {plan.slow_s:g} s receiver: "
                             f"median {statistics.median(delays):.2f} s, worst {worst:.2f} s ({len(delays)} alerts)")
            if worst > plan.fast_bound_s:
                row.fail(f"the fast target's alert took {worst:.1f} s beside a {plan.slow_s:g} s receiver "
                         f"(bound {plan.fast_bound_s:g} s)")
        finally:
            slow.delay_s = 0.0
        self._outcome(row, cases, wait_s=plan.settle_s + plan.slow_s * plan.slow_posts)
        self._intact(row, stored)
        return row

    def receiver_down(self) -> Row:
        """The receiver answers 503 for `down_clock_s` of the service's clock; comments keep coming; once it is
        back, every alert arrives and none is dead."""
        plan = self.plan
        real_s = plan.down_clock_s / self.server.clock_scale
        row = Row(DOWN, faults=f"receiver 503 for {plan.down_clock_s / 60:g} min of service clock ({real_s:.0f} s)")
        count, stored = Counter(row), {}
        down = self.receivers["down"]
        down.down = True
        cases: set[int] = set()
        started = time.monotonic()
        try:
            waves = 4
            for wave in range(waves):  # comments keep arriving during the outage
                n = plan.down_comments // waves + (wave < plan.down_comments % waves)
                cases |= set(self._urgent(count, "down", n, stored))
                time.sleep(max(0.0, started + real_s * (wave + 1) / (waves + 1) - time.monotonic()))
            time.sleep(max(0.0, started + real_s - time.monotonic()))
            statuses = {r["status"] for r in list_alerts(self.client, self.server.keys["admin"], cases)
                        if r["target"] == down.url}
            row.notes.append(f"{row.scenario}: {down.refused} posts refused during the outage; alert states at its "
                             f"end: {', '.join(sorted(statuses))}")
        finally:
            down.down = False
        back = time.monotonic()
        self._outcome(row, cases, wait_s=plan.settle_s)
        row.notes.append(f"{row.scenario}: everything settled {time.monotonic() - back:.0f} s after the receiver "
                         f"came back")
        self._intact(row, stored)
        return row

    def kill_mid_delivery(self) -> Row:
        """SIGKILL while the kill lane's receiver holds posts and comments are being posted; restart on the same
        database. Every comment answered 200 is there, every alert arrives at least once; a comment whose
        request died with the server is posted again (same external_id) and must be stored once."""
        plan = self.plan
        row = Row(KILL, faults="SIGKILL mid-delivery, restart")
        count, stored = Counter(row), {}
        receiver = self.receivers["kill"]
        receiver.delay_s = 0.5
        cases: set[int] = set()
        unanswered: list[dict] = []
        stop = threading.Event()

        def keep_posting():
            while not stop.is_set():
                items = self._items("kill", 2)
                row.inputs += 2
                response = self._post(count, items)
                if response is not None and response.status_code == 200:
                    for item, result in zip(items, response.json()["items"]):
                        stored[item["external_id"]] = (result["id"], item["text"])
                        if result.get("case"):
                            cases.add(result["case"]["id"])
                else:
                    unanswered.extend(items)
                time.sleep(0.1)

        try:
            cases |= set(self._urgent(count, "kill", plan.kill_comments, stored))
            poster = threading.Thread(target=keep_posting, daemon=True)
            poster.start()
            if not wait_until(lambda: receiver.keys(), 20, poll=0.05):
                row.fail("no alert reached the kill lane's receiver within 20 s")
            time.sleep(0.2)  # a post held by the receiver, more comments on their way
            self.server.kill()
            stop.set()
            poster.join(60)
            arrived_at_kill = len(set(receiver.keys()))
            restart_s = self.server.start()
            row.notes.append(f"{row.scenario}: killed after {len(stored)} comments stored and {arrived_at_kill} of "
                             f"their alerts arrived ({len(unanswered)} comments unanswered); restarted in "
                             f"{restart_s:.1f} s")
        finally:
            stop.set()
            receiver.delay_s = 0.0
        for item in unanswered:  # what the client would do: the same comment again after the outage
            response = self._post(count, [item])
            if response is None or response.status_code != 200:
                row.lost_comments += 1
                row.fail(f"comment {item['external_id']} re-posted after the restart -> "
                         f"{getattr(response, 'status_code', None)}")
                continue
            result = response.json()["items"][0]
            stored[item["external_id"]] = (result["id"], item["text"])
            if result.get("case"):
                cases.add(result["case"]["id"])
        self._intact(row, stored)
        self._outcome(row, cases, wait_s=plan.settle_s + plan.lease_s)
        return row

    def full_disk(self) -> Row:
        """Writes fail as on a full disk: writes answer 503 with a code, reads and /v1/classify go on, /readyz
        is not ready, nothing is a 500; once space is back, everything stored before is intact, nothing refused
        was half-stored, and new comments and their alerts go through."""
        plan = self.plan
        row = Row(DISK, faults="file writes refused (RLIMIT_FSIZE), then lifted")
        count, stored = Counter(row), {}
        cases = set(self._urgent(count, "disk", plan.disk_comments, stored))
        wait_until(lambda: {r["status"] for r in list_alerts(self.client, self.server.keys["admin"], cases)}
                   <= {"delivered"}, 10)
        refused: list[dict] = []
        self.server.limit_file_writes(True)
        try:
            for n in range(plan.disk_comments):
                calm = [comment("挂号处的态度还可以", f"rel-disk-calm-{n}-{time.time_ns()}")]
                items = self._items("disk", 1) if n % 2 else calm
                row.inputs += 1
                self._expect_refusal(row, "POST", "/v1/comments", "intake", json={"comments": items})
                refused += items
            writes = [("POST", f"/v1/cases/{min(cases, default=1)}/ack", "agent", {"note": "收到"}),
                      ("POST", "/v1/keys", "admin", {"role": "agent", "name": "disk"})]
            for method, path, role, body in writes:
                row.inputs += 1
                self._expect_refusal(row, method, path, role, json=body)
            ready = self._try(row, "GET", "/readyz")
            if ready is not None:
                count.saw("GET", "/readyz", None if ready.status_code == 503 else ready.status_code)
                row.notes.append(f"{row.scenario}: /readyz during the fault: {ready.status_code} {ready.text[:160]}")
                if ready.status_code != 503 or ready.json().get("status") != "not ready":
                    row.fail(f"/readyz during the fault: {ready.status_code} {ready.text[:160]}")
            reads = [("GET", "/v1/cases", "agent", {}), ("POST", "/v1/classify", "intake", {"json": {"texts": ["挂号"]}})]
            for method, path, role, kw in reads:
                response = self._try(row, method, path, role, **kw)
                if response is None:
                    continue
                coded = response.status_code == 503 and "error" in response.text
                count.saw(method, path, None if coded else response.status_code, response.text)
                if response.status_code != 200:
                    row.notes.append(f"{method} {path} during the fault: {response.status_code} (reads need no disk)")
            time.sleep(2)  # the workers meet the fault too
        finally:
            self.server.limit_file_writes(False)
        if not wait_until(self._ready, 30, poll=0.5):
            row.fail("/readyz not ready within 30 s of the fault being lifted")
        for item in refused:  # refused whole: posting it again stores it now, for the first time
            response = self._post(count, [item])
            if response is None or response.status_code != 200:
                row.lost_comments += 1
                row.fail(f"comment refused during the fault, re-posted after -> "
                         f"{getattr(response, 'status_code', None)}")
                continue
            result = response.json()["items"][0]
            if not result["created"]:
                row.fail(f"comment {result['id']} was answered 503 during the fault, yet stored")
            stored[item["external_id"]] = (result["id"], item["text"])
            if result.get("case"):
                cases.add(result["case"]["id"])
        self._intact(row, stored)
        self._outcome(row, cases, wait_s=plan.settle_s)
        return row

    def _expect_refusal(self, row: Row, method: str, path: str, role: str, **kw) -> None:
        """A write during the fault: 503 with an error code (retry later); a 500, or no code, is a defect."""
        response = self._try(row, method, path, role, **kw)
        if response is None:
            return
        row.load += 1
        code = (response.json().get("error") or {}).get("code") if response.headers.get(
            "content-type", "").startswith("application/json") else None
        if response.status_code == 503 and code:
            return
        if response.status_code >= 500:
            row.server_errors += 1
        row.fail(f"{method} {path} during the fault -> {response.status_code} code={code}: {response.text[:160]}")

    def whole_outbox(self, row: Row) -> Row:
        """At the end: every alert the service wrote, across all scenarios, arrived."""
        self._outcome(row, None, wait_s=self.plan.settle_s)
        return row
