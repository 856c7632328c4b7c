"""The spike worker: tests the current local week for spikes of negative comments now and then (managers'
view), flagging each once and alerting its route once (serving/insights/spikes.py)."""

from __future__ import annotations

import asyncio

from pvoice.serving.insights.spikes import flag_spikes
from pvoice.serving.services.context import ServiceContext
from pvoice.serving.workers.loop import PollingWorker


class SpikeWorker(PollingWorker):
    name = "spikes"

    def __init__(self, ctx: ServiceContext, *, poll_seconds: float):
        super().__init__(poll_seconds=poll_seconds)
        self.ctx = ctx

    async def tick(self) -> int:
        return len(await asyncio.to_thread(flag_spikes, self.ctx))
