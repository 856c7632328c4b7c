"""POST /v1/comments (ingest and triage), GET /v1/comments/{id}, and human labels on a comment."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks

from pvoice.serving.api.deps import Allowed, ContextDep, MetricsDep, BatcherDep, SessionDep
from pvoice.serving.api.schemas import (
    CommentLabels, CommentPublic, CommentsCreate, CommentsResponse, LabelsCreate,
)
from pvoice.serving.api.schemas.common import PathId
from pvoice.serving.api.views import comment_public, comment_result, response_public, suggestion_public
from pvoice.serving.db.engine import transaction
from pvoice.serving.services.auth import Perm
from pvoice.serving.services.comments import NewComment, get_comment
from pvoice.serving.services.ingest import explain_cases, ingest_comments
from pvoice.serving.services.labels import Labels, add_labels

router = APIRouter(prefix="/v1/comments", tags=["comments"])


@router.post("", response_model=CommentsResponse, summary="Store, classify and triage comments")
async def create_comments(body: CommentsCreate, ctx: ContextDep, batcher: BatcherDep, metrics: MetricsDep,
                          background: BackgroundTasks, who: Allowed(Perm.comments_create)) -> CommentsResponse:
    result = await ingest_comments(ctx, batcher=batcher, items=[NewComment(**c.model_dump()) for c in body.comments],
                                   who=who, on_prediction=metrics.count_prediction)
    if ctx.settings.case_evidence and result.to_explain:
        background.add_task(explain_cases, ctx, batcher=batcher, cases=result.to_explain)
    return CommentsResponse(items=[comment_result(r.comment, created=r.created, praise_to=r.praise_to)
                                   for r in result.items])


@router.get("/{comment_id}", response_model=CommentPublic, summary="Read a comment")
def read_comment(comment_id: PathId, session: SessionDep, who: Allowed(Perm.comments_read)) -> CommentPublic:
    return comment_public(get_comment(session, comment_id=comment_id), who)


@router.get("/{comment_id}/labels", response_model=CommentLabels,
            summary="Read a comment's suggestion and human labels")
def read_labels(comment_id: PathId, session: SessionDep, who: Allowed(Perm.comments_read)) -> CommentLabels:
    comment = get_comment(session, comment_id=comment_id)
    return CommentLabels(comment_id=comment.id, suggestion=suggestion_public(comment.suggestion),
                         responses=[response_public(r, who) for r in comment.responses])


@router.post("/{comment_id}/labels", response_model=CommentLabels, status_code=201,
             summary="Add a person's labels to a comment")
def create_labels(comment_id: PathId, body: LabelsCreate, ctx: ContextDep, who: Allowed(Perm.labels_write)
                  ) -> CommentLabels:
    with transaction(ctx.factory) as session:
        add_labels(session, comment_id=comment_id, labels=Labels(**body.model_dump()), taxonomy=ctx.taxonomy,
                   who=who, now=ctx.clock.now(), zone=ctx.routing.zone)
    with ctx.factory() as session:
        return read_labels(comment_id, session, who)
