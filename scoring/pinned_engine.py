"""The pinned engine: one worker process per core, each pinned to its core with one thread.

On a small machine this beats one process with N threads (measured in `bench/bench_throughput.py`): a single
forward pass at batch 32 and ~22 tokens is too small to keep N threads busy, while N independent passes are
not. Each worker loads the model once; the parent only plans micro-batches (`plan_chunk`, the same as the local
engine) and hands them out whole, so every forward pass sees exactly the texts the local engine would give it.
Memory grows with the workers: one model per process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pvoice.scoring.engine import assemble, plan_chunk, score_texts

_worker: dict[str, Any] = {}


def usable_cores() -> list[int]:
    """The cores this process may run on (a container or `taskset` may allow fewer than the machine has)."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def _start(model_dir: str, batch_size: int, runtime: str | None, cores: mp.Queue) -> None:
    """Pool initializer: take a core, pin to it, load the model with one thread."""
    from pvoice.model.loading import load_classifier

    core = cores.get()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    _worker["classifier"] = load_classifier(model_dir, threads=1, runtime=runtime)
    _worker["batch_size"] = batch_size


def _score(texts: list[str]) -> list[dict[str, Any]]:
    return score_texts(_worker["classifier"], texts, _worker["batch_size"])


class PinnedEngine:
    name = "pinned"

    def __init__(self, model_dir: Path, batch_size: int, max_chars: int, *, workers: int | None = None,
                 runtime: str | None = None):
        from pvoice.model.config import ClassifierConfig

        self.config = ClassifierConfig.load(Path(model_dir))
        cores = usable_cores()
        self.workers = max(1, min(workers or len(cores), len(cores)))
        self.batch_size, self.max_chars = batch_size, max_chars
        ctx = mp.get_context("spawn")  # fork would copy torch's thread pools and any loaded state
        queue = ctx.Queue()
        for core in cores[:self.workers]:
            queue.put(core)
        self._pool = ctx.Pool(self.workers, initializer=_start,
                              initargs=(str(Path(model_dir).resolve()), batch_size, runtime, queue))

    def score(self, texts: Sequence[Any], problems: Sequence[str | None]) -> list[dict[str, Any]]:
        groups, errors = plan_chunk(texts, problems, self.batch_size, self.max_chars)
        # longest batches first, so that no worker is left with a long one at the end of the chunk
        order = sorted(range(len(groups)), key=lambda k: -len(texts[groups[k][-1]]))
        results = self._pool.map(_score, [[texts[i] for i in groups[k]] for k in order], chunksize=1)
        scored: list[list[dict]] = [[] for _ in groups]
        for k, values in zip(order, results):
            scored[k] = values
        return assemble(len(texts), groups, scored, errors, self.config.touchpoints, self.config.model_version)

    def close(self) -> None:
        self._pool.close()
        self._pool.join()
