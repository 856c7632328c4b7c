"""The Ray engine: the same scoring through Ray Data `map_batches` with a pool of actors.

The driver reads the input with the same chunked readers as the local engine (so encodings, formats and
bad rows behave alike), plans the same micro-batches (`plan_chunk`), and hands them to Ray as one small
dataset per chunk.
Each Ray row is one whole micro-batch (its texts as a JSON string): Ray may regroup rows into batches as it
likes, but every forward pass still sees exactly the texts the local engine would give it, so the outputs
match to the last digit. Results are put back in row order by micro-batch number.

Every actor loads the model once, in `__init__`, from `model_dir`: on a cluster that directory must be
readable at the same path on every node (a shared filesystem), and patient-voice installed there too.
Ray Data starts a new actor pool for each dataset, so the pool (and its model loads) is per chunk; keep
chunks large (the default 10,000 rows) so that loading is a small part of each chunk's time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pvoice.scoring.engine import assemble, plan_chunk, score_texts


class _Scorer:
    """A Ray Data actor: one classifier per actor, loaded once, scoring micro-batches."""

    def __init__(self, model_dir: str, batch_size: int, threads: int):
        from pvoice.model.loading import load_classifier

        # the CPUs Ray reserved for this actor, no more
        self.classifier = load_classifier(model_dir, threads=threads)
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        scores = [json.dumps(score_texts(self.classifier, json.loads(texts), self.batch_size), ensure_ascii=False)
                  for texts in batch["texts"]]
        return {"group": batch["group"], "scores": np.array(scores, dtype=object)}


class RayEngine:
    name = "ray"

    def __init__(self, model_dir: Path, batch_size: int, max_chars: int, *, address: str | None = None,
                 concurrency: int | None = None, cpus_per_actor: int = 1):
        import ray
        from ray.data import DataContext

        from pvoice.model.config import ClassifierConfig

        self.config = ClassifierConfig.load(Path(model_dir))
        self.model_dir = str(Path(model_dir).resolve())
        self.batch_size, self.max_chars, self.cpus_per_actor = batch_size, max_chars, cpus_per_actor
        self._started = not ray.is_initialized()
        if self._started:
            # Ray's own notices would scroll our progress bar away; its errors still raise here
            kwargs: dict[str, Any] = {"logging_level": logging.ERROR}
            if address is None:
                kwargs["include_dashboard"] = False
            ray.init(address=address, **kwargs)
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        ctx = DataContext.get_current()
        ctx.enable_progress_bars = False  # our own bar counts rows; Ray's would redraw over it
        ctx.print_on_execution_start = False
        ctx.enable_auto_log_stats = False
        cpus = ray.cluster_resources().get("CPU", 1)
        self.concurrency = concurrency or max(1, int(cpus // cpus_per_actor))

    def score(self, texts: Sequence[Any], problems: Sequence[str | None]) -> list[dict[str, Any]]:
        import ray

        groups, errors = plan_chunk(texts, problems, self.batch_size, self.max_chars)
        scored: list[list[dict]] = []
        if groups:
            items = [{"group": k, "texts": json.dumps([texts[i] for i in g], ensure_ascii=False)}
                     for k, g in enumerate(groups)]
            actors = min(self.concurrency, len(items))
            ds = ray.data.from_items(items, override_num_blocks=min(len(items), actors * 4)).map_batches(
                _Scorer, batch_size=1, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=self.cpus_per_actor,
                fn_constructor_kwargs={"model_dir": self.model_dir, "batch_size": self.batch_size,
                                       "threads": self.cpus_per_actor})
            by_group = {int(row["group"]): json.loads(row["scores"]) for row in ds.iter_rows()}
            scored = [by_group[k] for k in range(len(groups))]
        return assemble(len(texts), groups, scored, errors, self.config.touchpoints, self.config.model_version)

    def close(self) -> None:
        import ray

        if self._started and ray.is_initialized():
            ray.shutdown()
