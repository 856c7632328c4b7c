"""The SLA worker: fires due timers (escalations, reminders) on the service's clock."""

from __future__ import annotations

import asyncio

from pvoice.serving.metrics import Metrics
from pvoice.serving.services.context import ServiceContext
from pvoice.serving.services.sla import fire_due_timers
from pvoice.serving.workers.loop import PollingWorker


class TimerWorker(PollingWorker):
    name = "sla"

    def __init__(self, ctx: ServiceContext, metrics: Metrics, *, poll_seconds: float):
        super().__init__(poll_seconds=poll_seconds)
        self.ctx, self.metrics = ctx, metrics

    async def tick(self) -> int:
        fired = await asyncio.to_thread(fire_due_timers, self.ctx)
        if fired:
            self.metrics.timers_fired.inc(fired)
        return fired
