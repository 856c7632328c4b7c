"""POST /v1/comments (ingest and triage), GET /v1/comments/{id}, and human labels on a comment."""

from __future__ import annotations

import logging

from fastapi import APIRouter, BackgroundTasks
from starlette.concurrency import run_in_threadpool

from serving.api.deps import Allowed, ContextDep, MetricsDep, PredictorDep, SessionDep
from serving.api.schemas import (
    CommentLabels, CommentPublic, CommentsCreate, CommentsResponse, LabelsCreate,
)
from serving.api.views import comment_public, comment_result, response_public, suggestion_public
from serving.db.engine import transaction
from serving.services.auth import Perm
from serving.services.classify import Prepared, classify_texts, evidence_dict
from serving.services.comments import NewComment, find_existing, get_comment, store_comment, store_evidence
from serving.services.labels import Labels, add_labels

router = APIRouter(prefix="/v1/comments", tags=["comments"])
log = logging.getLogger("pvoice.comments")


def _lookup(ctx, external_ids: list[str]) -> dict:
    with ctx.factory() as session:
        return find_existing(session, external_ids=external_ids)


async def explain_cases(ctx, predictor, cases: list[tuple[int, Prepared]]) -> None:
    """The words behind each case-opening prediction, for whoever works the case. Run after the response: the
    case and its alerts must not wait for it."""
    try:
        explained = await predictor.predict([prepared.model_text for _, prepared in cases], evidence=True)
        await run_in_threadpool(store_evidence, ctx, [(cid, evidence_dict(pred, prepared))
                                                      for (cid, prepared), pred in zip(cases, explained)])
    except Exception:  # noqa: BLE001 - evidence is a help, never a reason to fail
        log.exception("case evidence failed")


@router.post("", response_model=CommentsResponse)
async def create_comments(body: CommentsCreate, ctx: ContextDep, predictor: PredictorDep, metrics: MetricsDep,
                          background: BackgroundTasks, who: Allowed(Perm.comments_create)) -> CommentsResponse:
    items = body.comments
    known = await run_in_threadpool(_lookup, ctx, [c.external_id for c in items if c.external_id])
    fresh = [i for i, c in enumerate(items) if c.external_id not in known]
    classified = await classify_texts(predictor, [items[i].text for i in fresh],
                                      max_chars=ctx.settings.max_text_chars, evidence=False,
                                      evidence_max_chars=ctx.settings.evidence_max_chars)
    results: dict[int, object] = {}
    for n, i in enumerate(fresh):
        prepared, pred = classified[n]
        metrics.count_prediction(pred)
        results[i] = await run_in_threadpool(
            store_comment, ctx, item=NewComment(**items[i].model_dump()), prepared=prepared, pred=pred, who=who)
    if ctx.settings.case_evidence:
        cases = [(results[i].comment.id, classified[n][0]) for n, i in enumerate(fresh)
                 if results[i].created and results[i].comment.case is not None
                 and len(classified[n][0].original) <= ctx.settings.evidence_max_chars]
        if cases:
            background.add_task(explain_cases, ctx, predictor, cases)
    ctx.notify()
    out = []
    for i, item in enumerate(items):
        if i in results:
            r = results[i]
            out.append(comment_result(r.comment, created=r.created, praise_to=r.praise_to))
        else:
            out.append(comment_result(known[item.external_id], created=False, praise_to=[]))
    return CommentsResponse(items=out)


@router.get("/{comment_id}", response_model=CommentPublic)
def read_comment(comment_id: int, session: SessionDep, who: Allowed(Perm.comments_read)) -> CommentPublic:
    return comment_public(get_comment(session, comment_id=comment_id), who)


@router.get("/{comment_id}/labels", response_model=CommentLabels)
def read_labels(comment_id: int, session: SessionDep, _: Allowed(Perm.comments_read)) -> CommentLabels:
    comment = get_comment(session, comment_id=comment_id)
    return CommentLabels(comment_id=comment.id, suggestion=suggestion_public(comment.suggestion),
                         responses=[response_public(r) for r in comment.responses])


@router.post("/{comment_id}/labels", response_model=CommentLabels, status_code=201)
def create_labels(comment_id: int, body: LabelsCreate, ctx: ContextDep, who: Allowed(Perm.labels_write)
                  ) -> CommentLabels:
    with transaction(ctx.factory) as session:
        add_labels(session, comment_id=comment_id, labels=Labels(**body.model_dump()), taxonomy=ctx.taxonomy,
                   who=who, now=ctx.clock.now())
    with ctx.factory() as session:
        return read_labels(comment_id, session, who)
