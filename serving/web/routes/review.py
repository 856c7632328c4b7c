"""/app/review: the review queue (复核). A reviewer confirms or corrects every label of each comment; the labels
are stored through services.labels.add_labels (the labels API's function), apart from the model's suggestion,
with who, when and the suggestion's model version. The page also shows Cohen's kappa per head."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pvoice.serving.api.deps import ContextDep, SessionDep
from pvoice.serving.api.schemas.common import PathId
from pvoice.serving.api.views import comment_public
from pvoice.serving.db.engine import transaction
from pvoice.serving.errors import InvalidInput
from pvoice.serving.services.auth import Perm
from pvoice.serving.services.labels import Labels, add_labels
from pvoice.serving.services.review import agreement, review_queue
from pvoice.serving.web.deps import ActionAllowed, PageAllowed
from pvoice.serving.web.errors import page_message
from pvoice.serving.web.pages import render

router = APIRouter(prefix="/app/review", include_in_schema=False)

QUEUE_LIMIT = 20
WHY_NAMES = {"review_band": "复核区间：可能紧急", "low_confidence": "置信度低", "near_threshold": "接近阈值",
             "disagreement": "各头不一致", "audit": "随机抽查", "second_opinion": "二次复核（他人已标注）"}
HEAD_NAMES = {"touchpoints": "触点", "aspects": "触点情感", "sentiment": "整体情感", "urgency": "紧急程度",
              "urgent_reasons": "紧急原因"}


def _problem(request: Request, error: InvalidInput) -> str:
    return f"标签组合不成立，没有保存：{page_message(request, error)}"


def _page(request: Request, session, ctx, who, *, status: int = 200, errors: dict | None = None,
          submitted: dict | None = None, saved: int | None = None) -> HTMLResponse:
    queue = review_queue(session, reviewer=who.actor, limit=QUEUE_LIMIT, today=ctx.clock.now().date())
    items = []
    for item in queue:
        suggestion = item.comment.suggestion
        suggested = {"touchpoints": suggestion.touchpoints, "aspects": suggestion.aspects,
                     "sentiment": suggestion.sentiment, "urgency": suggestion.urgency,
                     "urgent_reasons": suggestion.urgent_reasons, "note": ""}
        items.append({"comment": comment_public(item.comment, who), "why": item.why,
                      "model_version": suggestion.model_version,
                      "labels": (submitted or {}).get(item.comment.id, suggested), "suggested": suggested})
    return render(request, "review.html", status=status, items=items, errors=errors or {}, saved=saved,
                  taxonomy=ctx.taxonomy, why_names=WHY_NAMES, head_names=HEAD_NAMES,
                  agreement=agreement(session, taxonomy=ctx.taxonomy))


@router.get("", response_class=HTMLResponse, summary="The review queue")
def review_page(request: Request, ctx: ContextDep, session: SessionDep, who: PageAllowed(Perm.labels_write),
                saved: int | None = None) -> HTMLResponse:
    return _page(request, session, ctx, who, saved=saved)


def read_labels(touchpoints: list[str], aspects: list[str], sentiment: str, urgency: str,
                urgent_reasons: list[str], note: str) -> Labels:
    """The form's fields as a label set. Each aspect select sends `touchpoint:sentiment` (or nothing)."""
    pairs = {}
    for value in aspects:
        if not value:
            continue
        touchpoint, sep, feeling = value.partition(":")
        if not sep:
            raise InvalidInput(f"aspect {value!r} is not touchpoint:sentiment", field="aspects")
        pairs[touchpoint] = feeling
    return Labels(touchpoints=list(dict.fromkeys(touchpoints)), aspects=pairs, sentiment=sentiment,
                  urgency=urgency, urgent_reasons=list(dict.fromkeys(urgent_reasons)), note=note.strip())


Many = Annotated[list[str], Form()]


@router.post("/{comment_id}", summary="Save a reviewer's labels for a comment")
def save_labels(comment_id: PathId, request: Request, ctx: ContextDep, who: ActionAllowed(Perm.labels_write),
                touchpoints: Many = [], aspects: Many = [], urgent_reasons: Many = [],  # noqa: B006 - FastAPI copies
                sentiment: Annotated[str, Form(max_length=32)] = "",
                urgency: Annotated[str, Form(max_length=32)] = "",
                note: Annotated[str, Form(max_length=4000)] = "") -> Response:
    try:
        labels = read_labels(touchpoints, aspects, sentiment, urgency, urgent_reasons, note)
        with transaction(ctx.factory) as session:
            add_labels(session, comment_id=comment_id, labels=labels, taxonomy=ctx.taxonomy, who=who,
                       now=ctx.clock.now(), zone=ctx.routing.zone)
    except InvalidInput as error:
        submitted = {comment_id: {"touchpoints": touchpoints, "sentiment": sentiment, "urgency": urgency,
                                  "urgent_reasons": urgent_reasons, "note": note,
                                  "aspects": dict(v.partition(":")[::2] for v in aspects if ":" in v)}}
        with ctx.factory() as session:
            return _page(request, session, ctx, who, status=422, errors={comment_id: _problem(request, error)},
                         submitted=submitted)
    return RedirectResponse(f"/app/review?saved={comment_id}", status_code=303)
