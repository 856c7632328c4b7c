"""Micro-batching: texts of concurrent requests are gathered for a few milliseconds and classified in one model
call, on one worker thread, so the event loop never waits on the model."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pvoice.model.results import Prediction

log = logging.getLogger("pvoice.batcher")


@dataclass
class _Job:
    texts: list[str]
    evidence: bool
    future: asyncio.Future = field(repr=False)


class MicroBatcher:
    """`await batcher.predict(texts)`: same results as `classifier.predict(texts)`, fewer model calls."""

    def __init__(self, classifier, *, window_ms: float = 5.0, max_texts: int = 64, model_batch_size: int = 32,
                 on_call: Callable[[int], None] | None = None):
        self.classifier = classifier
        self.on_call = on_call  # told the number of texts of each model call (metrics)
        self.window = window_ms / 1000
        self.max_texts = max_texts
        self.model_batch_size = model_batch_size
        self.calls = 0  # model calls made, for tests and metrics
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task | None = None
        # one thread: model calls run one after another, each on a full batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pvoice-model")

    @property
    def model_version(self) -> str:
        return getattr(getattr(self.classifier, "config", None), "model_version", "") or "unknown"

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="pvoice-microbatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def predict(self, texts: list[str], *, evidence: bool = False) -> list[Prediction]:
        if not texts:
            return []
        if self._queue is None:
            raise RuntimeError("the batcher is not started")
        future = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(list(texts), evidence, future))
        return await future

    async def _gather(self) -> list[_Job]:
        """The first waiting job, then whatever else arrives within the window, up to `max_texts`."""
        assert self._queue is not None
        jobs = [await self._queue.get()]
        size = len(jobs[0].texts)
        deadline = asyncio.get_running_loop().time() + self.window
        while size < self.max_texts:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                job = await asyncio.wait_for(self._queue.get(), remaining)
            except TimeoutError:
                break
            jobs.append(job)
            size += len(job.texts)
        return jobs

    async def _run(self) -> None:
        while True:
            jobs = await self._gather()
            # evidence is costly: only the jobs that asked for it pay for it
            for evidence in (False, True):
                group = [j for j in jobs if j.evidence is evidence and not j.future.cancelled()]
                if group:
                    await self._serve(group, evidence)

    async def _serve(self, jobs: list[_Job], evidence: bool) -> None:
        texts = [t for job in jobs for t in job.texts]
        loop = asyncio.get_running_loop()
        try:
            self.calls += 1
            if self.on_call is not None:
                self.on_call(len(texts))
            preds = await loop.run_in_executor(self._executor, self._call, texts, evidence)
        except Exception as error:  # noqa: BLE001 - one bad job must not fail its neighbours
            if len(jobs) > 1:
                for job in jobs:
                    await self._serve([job], evidence)
                return
            log.warning("model call failed", extra={"error": repr(error)})
            if not jobs[0].future.done():
                jobs[0].future.set_exception(error)
            return
        start = 0
        for job in jobs:
            if not job.future.done():
                job.future.set_result(preds[start:start + len(job.texts)])
            start += len(job.texts)

    def _call(self, texts: list[str], evidence: bool) -> list[Prediction]:
        return self.classifier.predict(texts, batch_size=self.model_batch_size, evidence=evidence)
