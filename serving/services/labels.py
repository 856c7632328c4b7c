"""Human labels: stored beside the model's suggestion (never over it) and exported in the corpus format."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from pvoice.labels import Taxonomy
from pvoice.labels import validate_labels as check_labels
from pvoice.serving.db.models import Comment, LabelResponse
from pvoice.serving.errors import InvalidInput
from pvoice.serving.insights.facts import HUMAN, record_aspects
from pvoice.serving.masking import mask_pii
from pvoice.serving.services.audit import audit
from pvoice.serving.services.auth import Principal
from pvoice.serving.services.comments import get_comment

EXPORT_ID_PREFIX = "pv-"


@dataclass(frozen=True)
class Labels:
    touchpoints: list[str]
    aspects: dict[str, str]
    sentiment: str
    urgency: str
    urgent_reasons: list[str]
    note: str = ""


def validate_labels(labels: Labels, taxonomy: Taxonomy) -> None:
    """The corpus contract: what training will refuse is refused here, naming the first bad field."""
    problems = check_labels(asdict(labels), taxonomy)
    if problems:
        field, message = problems[0]
        raise InvalidInput(f"{field}: {message}", field=field)


def add_labels(session: Session, *, comment_id: int, labels: Labels, taxonomy: Taxonomy, who: Principal,
               now: datetime, zone: ZoneInfo) -> LabelResponse:
    """Store a person's labels; from now on the managers' view counts them instead of the model's (`zone`: the
    service's, in which the view's weeks are read)."""
    comment = get_comment(session, comment_id=comment_id)
    validate_labels(labels, taxonomy)
    response = LabelResponse(
        comment_id=comment.id, touchpoints=labels.touchpoints, aspects=labels.aspects, sentiment=labels.sentiment,
        urgency=labels.urgency, urgent_reasons=labels.urgent_reasons, note=labels.note, author=who.actor,
        created_at=now, suggestion_model_version=comment.suggestion.model_version,
        taxonomy_version=taxonomy.version,
    )
    session.add(response)
    session.flush()
    record_aspects(session, comment=comment, touchpoints=labels.touchpoints, aspects=labels.aspects,
                   sentiment=labels.sentiment, source=HUMAN, zone=zone)
    audit(session, who=who, action="comment.label", target=f"comment:{comment.id}", now=now,
          response_id=response.id, urgency=labels.urgency)
    return response


def export_rows(session: Session) -> Iterator[dict]:
    """The latest human labels of each labeled comment, as corpus rows; texts are masked, since training
    data outlives the case and needs no phone numbers."""
    latest = select(func.max(LabelResponse.id)).group_by(LabelResponse.comment_id)
    query = (select(LabelResponse).where(LabelResponse.id.in_(latest)).order_by(LabelResponse.comment_id)
             .options(selectinload(LabelResponse.comment).selectinload(Comment.suggestion)))
    for response in session.scalars(query):
        comment = response.comment
        yield {
            "id": f"{EXPORT_ID_PREFIX}{comment.id}", "text": mask_pii(comment.text),
            "touchpoints": response.touchpoints, "aspects": response.aspects, "sentiment": response.sentiment,
            "urgency": response.urgency, "urgent_reasons": response.urgent_reasons, "channel": comment.channel,
            "source": "written",
            "labeled_by": response.author, "labeled_at": response.created_at.isoformat(),
            "suggestion_model_version": response.suggestion_model_version,
            "suggested_urgency": comment.suggestion.urgency if comment.suggestion else None,
        }
