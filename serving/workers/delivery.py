"""The delivery worker: claims due alerts and sends each (channel, target) on a lane of its own.

A lane is one target's batch in flight on a thread of the pool; while it is in flight that target is not
claimed again, and the other targets keep flowing on the next ticks, so one slow robot holds up only itself.
What a failure causes (an urgent case escalated past a level it cannot reach, the admin paged about a dead
letter) is written in the transaction that records the failed try.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from sqlalchemy.orm import Session

from pvoice.serving.alerts.channels import DeliveryError, Sender
from pvoice.serving.alerts.message import AlertMessage
from pvoice.serving.alerts.ratelimit import DatabaseWindowLimiter
from pvoice.serving.db.models import Case, OutboxAlert
from pvoice.serving.metrics import Metrics
from pvoice.serving.services.alert_texts import render_dead_letter
from pvoice.serving.services.context import ServiceContext
from pvoice.serving.services.outbox import (
    DEAD_LETTER, Lane, RetryPolicy, claim, enqueue_dead_letter, mark_delivered, mark_failed,
)
from pvoice.serving.services.sla import escalate_undeliverable
from pvoice.serving.services.triage import SYSTEM, add_event
from pvoice.serving.workers.loop import PollingWorker

log = logging.getLogger("pvoice.delivery")


def to_message(row: OutboxAlert) -> AlertMessage:
    return AlertMessage(
        idempotency_key=row.idempotency_key, channel=row.channel, target=row.target, title=row.title,
        body_markdown=row.body_markdown, case_id=str(row.case_id) if row.case_id is not None else "",
        event=row.event, urgency=row.urgency, created_at=row.created_at,
    )


class DeliveryWorker(PollingWorker):
    name = "delivery"

    def __init__(self, ctx: ServiceContext, senders: dict[str, Sender], metrics: Metrics, *, poll_seconds: float):
        super().__init__(poll_seconds=poll_seconds)
        self.ctx, self.senders, self.metrics = ctx, senders, metrics
        s = ctx.settings
        self.policy = RetryPolicy(s.alert_retry_window_hours * 3600, s.alert_backoff_base_seconds,
                                  s.alert_backoff_max_seconds)
        self.lanes = s.alert_lanes
        self._pool = ThreadPoolExecutor(max_workers=self.lanes, thread_name_prefix="pvoice-send")
        self._busy: set[Lane] = set()
        self._busy_lock = threading.Lock()
        # A robot counts the messages it gets per minute from every process that posts to it: the window is
        # kept in the database, where all of this service's processes see it.
        shared = DatabaseWindowLimiter(ctx.factory, s.alert_rate_limit_per_minute)
        for sender in senders.values():
            if hasattr(sender, "limiter"):
                sender.limiter = shared

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    async def tick(self) -> int:
        return await asyncio.to_thread(self.deliver_due, wait=False)

    def deliver_due(self, now: datetime | None = None, *, wait: bool = True) -> int:
        """Claim what is due on targets with no send in flight and start one lane per target.

        wait=True (tests, scripts): return once these lanes have settled, with how many alerts were delivered;
        settling uses `now` when given. wait=False (the background loop): return at once with how many lanes
        started; each lane wakes the loop when it settles, so whatever came due for its target meanwhile
        goes next.
        """
        with self._busy_lock:
            busy = set(self._busy)
        free = self.lanes - len(busy)
        if free <= 0:
            return 0
        token, rows = claim(self.ctx.factory, now=now or self.ctx.clock.now(),
                            lease_seconds=self.ctx.settings.alert_lease_seconds, lanes=free, busy=busy)
        groups: dict[Lane, list[OutboxAlert]] = defaultdict(list)
        for row in rows:
            groups[(row.channel, row.target)].append(row)
        futures: list[Future[int]] = []
        with self._busy_lock:
            self._busy.update(groups)
        for lane, group in groups.items():
            futures.append(self._pool.submit(self._run_lane, lane, group, token, now))
        if not wait:
            return len(futures)
        return sum(future.result() for future in futures)

    def _run_lane(self, lane: Lane, rows: list[OutboxAlert], token: str, now: datetime | None) -> int:
        try:
            return self._send_group(rows, token, now)
        finally:
            with self._busy_lock:
                self._busy.discard(lane)
            self.notify()

    def _send_group(self, rows: list[OutboxAlert], token: str, now: datetime | None) -> int:
        channel = rows[0].channel
        sender = self.senders.get(channel)
        try:
            if sender is None:
                raise DeliveryError(f"no sender for channel {channel!r}", code="no_sender", retryable=False)
            sender.send([to_message(r) for r in rows])
        except DeliveryError as error:
            settled = now or self.ctx.clock.now()
            done = set(getattr(error, "delivered", ()) or ())
            arrived = [r.id for r in rows if r.idempotency_key in done]
            self._delivered(arrived, token, settled)
            self._failed([r for r in rows if r.id not in arrived], token, settled, str(error), error.code,
                         error.retryable, getattr(error, "retry_after", None))
            self.metrics.alerts_sent.labels(channel).inc(len(arrived))
            return len(arrived)
        except Exception as error:  # noqa: BLE001 - a sender bug must not stop delivery of the rest
            log.exception("sender raised", extra={"channel": channel})
            self._failed(rows, token, now or self.ctx.clock.now(), repr(error), "unexpected", True, None)
            return 0
        self._delivered([r.id for r in rows], token, now or self.ctx.clock.now())
        self.metrics.alerts_sent.labels(channel).inc(len(rows))
        return len(rows)

    def _delivered(self, ids: list[int], token: str, now: datetime) -> None:
        if mark_delivered(self.ctx.factory, ids=ids, token=token, now=now):
            self.notify()  # the target is back: what it failed to take goes on the next tick

    def _failed(self, rows: list[OutboxAlert], token: str, now: datetime, message: str, code: str,
                retryable: bool, retry_after: float | None) -> None:
        if not rows:
            return
        channel = rows[0].channel
        self.metrics.alert_failures.labels(channel, code).inc(len(rows))
        caused: list[str] = []
        settled = mark_failed(self.ctx.factory, ids=[r.id for r in rows], token=token, now=now, error=message,
                              code=code, retryable=retryable, retry_after=retry_after,
                              counts=code != "rate_limited", policy=self.policy,
                              then=lambda session, failed: caused.extend(self._consequences(session, failed, now)))
        dead = [r for r in settled if r.status == "dead"]
        log.warning("alert delivery failed", extra={"channel": channel, "code": code, "alerts": len(rows),
                                                    "dead": len(dead), "error": message[:300]})
        if dead:
            self.metrics.dead_letters.labels(channel).inc(len(dead))
        if caused:
            self.notify()  # the escalations and pages just written go out on the next tick, not the next poll

    def _consequences(self, session: Session, rows: list[OutboxAlert], now: datetime) -> list[str]:
        caused = []
        for row in rows:
            if outcome := escalate_undeliverable(session, self.ctx, row, now):
                caused.append(outcome)
            if row.status == "dead":
                caused.append(self._page_admin(session, row, now))
        return caused

    def _page_admin(self, session: Session, dead: OutboxAlert, now: datetime) -> str:
        extra = {"alert": dead.id, "key": dead.idempotency_key, "channel": dead.channel,
                 "recipient": dead.recipient, "code": dead.last_error_code}
        if dead.event == DEAD_LETTER:
            # a page about a page would loop: the log and the dead-letter metric are the last word
            log.error("the admin's dead-letter page could not be delivered", extra=extra)
            return "unpaged"
        routing = self.ctx.routing
        people = routing.on_duty(routing.admin_people, now) or [routing.people[p] for p in routing.admin_people]
        title, body = render_dead_letter(dead, zone=routing.zone)
        pages = enqueue_dead_letter(session, dead=dead, people=people, title=title, body=body, now=now)
        if not pages:
            log.error("dead letter, and the admin has no other target to be paged on", extra=extra)
        if dead.case_id is not None:
            add_event(session, session.get(Case, dead.case_id), kind="alert_dead", actor=SYSTEM, now=now,
                      alert=dead.idempotency_key, recipient=dead.recipient, error_code=dead.last_error_code,
                      paged=[p.recipient for p in pages])
        return "paged" if pages else "unpaged"
