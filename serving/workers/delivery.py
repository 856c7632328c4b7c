"""The delivery worker: claims due alerts, sends each (channel, target) group in one call, settles the rows."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from pvoice.serving.alerts.channels import DeliveryError, Sender
from pvoice.serving.alerts.message import AlertMessage
from pvoice.serving.db.models import OutboxAlert
from pvoice.serving.metrics import Metrics
from pvoice.serving.services.context import ServiceContext
from pvoice.serving.services.outbox import RetryPolicy, claim, mark_delivered, mark_failed
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
        self.policy = RetryPolicy(s.alert_max_attempts, s.alert_backoff_base_seconds, s.alert_backoff_max_seconds)
        # targets are sent to side by side, so one robot that hangs does not hold up the others
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="pvoice-send")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    async def tick(self) -> int:
        return await asyncio.to_thread(self.deliver_due)

    def deliver_due(self, now: datetime | None = None) -> int:
        """Claim and send everything due; returns how many alerts were delivered."""
        now = now or self.ctx.clock.now()
        token, rows = claim(self.ctx.factory, now=now, lease_seconds=self.ctx.settings.alert_lease_seconds)
        groups: dict[tuple[str, str], list[OutboxAlert]] = defaultdict(list)
        for row in rows:
            groups[(row.channel, row.target)].append(row)
        results = self._pool.map(lambda group: self._send_group(group, token, now), groups.values())
        return sum(results)

    def _send_group(self, rows: list[OutboxAlert], token: str, now: datetime) -> int:
        channel = rows[0].channel
        sender = self.senders.get(channel)
        try:
            if sender is None:
                raise DeliveryError(f"no sender for channel {channel!r}", code="no_sender", retryable=False)
            sender.send([to_message(r) for r in rows])
        except DeliveryError as error:
            done = set(getattr(error, "delivered", ()) or ())
            arrived = [r.id for r in rows if r.idempotency_key in done]
            mark_delivered(self.ctx.factory, ids=arrived, token=token, now=now)
            self._failed([r for r in rows if r.id not in arrived], token, now, str(error), error.code,
                         error.retryable, getattr(error, "retry_after", None))
            self.metrics.alerts_sent.labels(channel).inc(len(arrived))
            return len(arrived)
        except Exception as error:  # noqa: BLE001 - a sender bug must not stop delivery of the rest
            log.exception("sender raised", extra={"channel": channel})
            self._failed(rows, token, now, repr(error), "unexpected", True, None)
            return 0
        mark_delivered(self.ctx.factory, ids=[r.id for r in rows], token=token, now=now)
        self.metrics.alerts_sent.labels(channel).inc(len(rows))
        return len(rows)

    def _failed(self, rows: list[OutboxAlert], token: str, now: datetime, message: str, code: str,
                retryable: bool, retry_after: float | None) -> None:
        if not rows:
            return
        channel = rows[0].channel
        self.metrics.alert_failures.labels(channel, code).inc(len(rows))
        dead = mark_failed(self.ctx.factory, ids=[r.id for r in rows], token=token, now=now, error=message,
                           code=code, retryable=retryable, retry_after=retry_after,
                           counts=code != "rate_limited", policy=self.policy)
        log.warning("alert delivery failed", extra={"channel": channel, "code": code, "alerts": len(rows),
                                                    "dead": len(dead), "error": message[:300]})
        if dead:
            self.metrics.dead_letters.labels(channel).inc(len(dead))
