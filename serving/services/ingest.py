"""Ingesting a request's comments: skip the known external ids, classify the rest in one batch, store each."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from pvoice.model.results import Prediction
from pvoice.serving.services.auth import Principal
from pvoice.serving.services.batcher import INGEST, MicroBatcher
from pvoice.serving.services.classify import Prepared, classify_texts, evidence_dict
from pvoice.serving.services.comments import Ingested, NewComment, find_existing, store_comments, store_evidence
from pvoice.serving.services.context import ServiceContext

log = logging.getLogger("pvoice.ingest")


@dataclass
class IngestResult:
    items: list[Ingested]  # in input order
    to_explain: list[tuple[int, Prepared]]  # comments that opened a case, short enough to explain


def _lookup(ctx: ServiceContext, external_ids: list[str]) -> dict:
    with ctx.factory() as session:
        return find_existing(session, external_ids=external_ids)


async def ingest_comments(ctx: ServiceContext, *, batcher: MicroBatcher, items: list[NewComment], who: Principal,
                          on_prediction: Callable[[Prediction], None] = lambda _: None) -> IngestResult:
    """Classify the comments not stored yet, then store the whole list in one transaction."""
    known = await run_in_threadpool(_lookup, ctx, [c.external_id for c in items if c.external_id])
    fresh = [i for i, c in enumerate(items) if c.external_id not in known]
    classified = await classify_texts(batcher, [items[i].text for i in fresh], max_chars=ctx.settings.max_text_chars,
                                      evidence=False, evidence_max_chars=ctx.settings.evidence_max_chars,
                                      priority=INGEST)
    for _, pred in classified:
        on_prediction(pred)
    stored = await run_in_threadpool(store_comments, ctx, who=who, items=[
        (items[i], prepared, pred) for i, (prepared, pred) in zip(fresh, classified)])
    ctx.notify()
    by_index = dict(zip(fresh, stored))
    to_explain = [(by_index[i].comment.id, prepared) for i, (prepared, _) in zip(fresh, classified)
                  if by_index[i].created and by_index[i].comment.case is not None
                  and len(prepared.original) <= ctx.settings.evidence_max_chars]
    results = [by_index[i] if i in by_index else Ingested(known[item.external_id], False, [])
               for i, item in enumerate(items)]
    return IngestResult(results, to_explain)


async def explain_cases(ctx: ServiceContext, *, batcher: MicroBatcher, cases: list[tuple[int, Prepared]]) -> None:
    """The words behind each case-opening prediction, for whoever works the case; run after the response, since
    the case and its alerts must not wait for it."""
    try:
        explained = await batcher.predict([prepared.model_text for _, prepared in cases], evidence=True)
        await run_in_threadpool(store_evidence, ctx, [(cid, evidence_dict(pred, prepared))
                                                      for (cid, prepared), pred in zip(cases, explained)])
    except Exception:  # noqa: BLE001 - evidence is a help, never a reason to fail
        log.exception("case evidence failed")
