"""Micro-batching: texts of concurrent requests are gathered for a few milliseconds and classified in one model
call, on one worker thread, so the event loop never waits on the model.

Requests are cut into pieces of a few texts, and the model always takes the most pressing piece next: the
comments being ingested (which may page someone) before texts sent only to be classified. A large
`/v1/classify` with evidence therefore holds the model for one piece at a time, not for its whole length.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pvoice.model.results import Prediction

log = logging.getLogger("pvoice.batcher")

INGEST, CLASSIFY = 0, 1  # lanes: a lower number is served first
EVIDENCE_COST = 16  # a text with evidence costs about this many plain texts (occlusion: a pass per word group)


@dataclass
class _Job:
    texts: list[str]
    evidence: bool
    future: asyncio.Future = field(repr=False)
    results: list[Prediction | None] = field(default_factory=list, repr=False)
    pending: int = 0  # pieces not answered yet

    def settle(self, start: int, preds: list[Prediction]) -> None:
        self.results[start:start + len(preds)] = preds
        self.pending -= 1
        if self.pending == 0 and not self.future.done():
            self.future.set_result(self.results)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


@dataclass(order=True)
class _Piece:
    lane: int
    seq: int
    job: _Job = field(compare=False)
    start: int = field(compare=False)
    texts: list[str] = field(compare=False)

    @property
    def cost(self) -> int:
        return len(self.texts) * (EVIDENCE_COST if self.job.evidence else 1)


class MicroBatcher:
    """`await batcher.predict(texts)`: same results as `classifier.predict(texts)`, fewer model calls."""

    def __init__(self, classifier, *, window_ms: float = 5.0, max_texts: int = 64, model_batch_size: int = 32,
                 on_call: Callable[[int], None] | None = None):
        self.classifier = classifier
        self.on_call = on_call  # told the number of texts of each model call (metrics)
        self.window = window_ms / 1000
        self.max_texts = max_texts  # the cost of one model call, in plain texts
        self.model_batch_size = model_batch_size
        self.calls = 0  # model calls made, for tests and metrics
        self._queue: asyncio.PriorityQueue[_Piece] | None = None
        self._seq = itertools.count()
        self._task: asyncio.Task | None = None
        self._stopping = False
        # one thread: model calls run one after another, each on a full batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pvoice-model")

    @property
    def model_version(self) -> str:
        return getattr(getattr(self.classifier, "config", None), "model_version", "") or "unknown"

    async def start(self) -> None:
        self._queue, self._stopping = asyncio.PriorityQueue(), False
        self._task = asyncio.create_task(self._run(), name="pvoice-microbatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping = True  # as in workers/loop.py: 3.11's wait_for can swallow this cancel
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._executor.shutdown(wait=True, cancel_futures=True)

    async def predict(self, texts: list[str], *, evidence: bool = False, priority: int = CLASSIFY
                      ) -> list[Prediction]:
        if not texts:
            return []
        if self._queue is None:
            raise RuntimeError("the batcher is not started")
        job = _Job(list(texts), evidence, asyncio.get_running_loop().create_future(), [None] * len(texts))
        step = max(1, self.max_texts // EVIDENCE_COST) if evidence else self.model_batch_size
        starts = range(0, len(texts), step)
        job.pending = len(starts)
        for start in starts:
            self._queue.put_nowait(_Piece(priority, next(self._seq), job, start, job.texts[start:start + step]))
        return await job.future

    async def _gather(self) -> list[_Piece]:
        """The most pressing waiting piece, then whatever else arrives within the window, up to `max_texts`."""
        assert self._queue is not None
        pieces = [await self._queue.get()]
        cost = pieces[0].cost
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.window
        while cost < self.max_texts:
            remaining = deadline - loop.time()
            try:
                piece = self._queue.get_nowait() if remaining <= 0 else await asyncio.wait_for(
                    self._queue.get(), remaining)
            except (TimeoutError, asyncio.QueueEmpty):
                break
            if cost + piece.cost > self.max_texts:
                self._queue.put_nowait(piece)  # keeps its place: the order compares lane and arrival only
                break
            pieces.append(piece)
            cost += piece.cost
        return pieces

    async def _run(self) -> None:
        while not self._stopping:
            pieces = await self._gather()
            # evidence is costly: only the pieces that asked for it pay for it
            for evidence in (False, True):
                group = [p for p in pieces if p.job.evidence is evidence and not p.job.future.done()]
                if group:
                    await self._serve(group, evidence)

    async def _serve(self, pieces: list[_Piece], evidence: bool) -> None:
        texts = [t for piece in pieces for t in piece.texts]
        loop = asyncio.get_running_loop()
        try:
            self.calls += 1
            if self.on_call is not None:
                self.on_call(len(texts))
            preds = await loop.run_in_executor(self._executor, self._call, texts, evidence)
        except Exception as error:  # noqa: BLE001 - one bad job must not fail its neighbours
            if len(pieces) > 1:
                for piece in pieces:
                    await self._serve([piece], evidence)
                return
            log.warning("model call failed", extra={"error": type(error).__name__})
            pieces[0].job.fail(error)
            return
        start = 0
        for piece in pieces:
            piece.job.settle(piece.start, preds[start:start + len(piece.texts)])
            start += len(piece.texts)

    def _call(self, texts: list[str], evidence: bool) -> list[Prediction]:
        return self.classifier.predict(texts, batch_size=self.model_batch_size, evidence=evidence)
