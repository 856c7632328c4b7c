"""A background loop on the app's event loop: runs `tick` every few seconds, or at once when notified."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("pvoice.workers")


class PollingWorker:
    name = "worker"

    def __init__(self, *, poll_seconds: float):
        self.poll_seconds = poll_seconds
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False

    async def tick(self) -> int:
        raise NotImplementedError

    def notify(self) -> None:
        """Run the next tick now; safe to call from any thread."""
        if self._loop is not None and self._wake is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # the loop closed between the check and the call: nothing left to wake
                pass

    async def start(self) -> None:
        self._loop, self._wake, self._stopping = asyncio.get_running_loop(), asyncio.Event(), False
        self._task = asyncio.create_task(self._run(), name=f"pvoice-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            # Python 3.11's wait_for can swallow a cancel that meets a wake-up (a notify at shutdown); the flag
            # ends the loop then too, instead of leaving shutdown waiting on a task that never ends
            self._stopping = True
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.close()

    def close(self) -> None:
        pass

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before the tick: a notify during it makes the next tick start at once
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failing tick (database away) is retried on the next one
                log.exception("background tick failed", extra={"worker": self.name})
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except TimeoutError:
                pass
