"""Ingesting comments: store the text and the model's suggestion, then triage, all in one transaction each."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from pvoice.model.results import Prediction
from pvoice.serving.db.engine import transaction
from pvoice.serving.db.models import Comment, Suggestion
from pvoice.serving.errors import NotFound
from pvoice.serving.insights.facts import MODEL, content_words, record_aspects
from pvoice.serving.masking import hash_patient_ref
from pvoice.serving.services.auth import Principal
from pvoice.serving.services.classify import Prepared, evidence_dict
from pvoice.serving.services.context import ServiceContext
from pvoice.serving.services.triage import forward_praise, open_case

log = logging.getLogger("pvoice.comments")


@dataclass(frozen=True)
class NewComment:
    text: str
    channel: str
    received_at: datetime
    department: str | None = None
    ward: str | None = None
    external_id: str | None = None
    patient_ref: str | None = None


@dataclass
class Ingested:
    comment: Comment
    created: bool
    praise_to: list[str]


def _aware(when: datetime, zone: str) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=ZoneInfo(zone))


def _loaded(session: Session, comment_id: int) -> Comment:
    return session.scalar(select(Comment).where(Comment.id == comment_id).options(
        selectinload(Comment.suggestion), selectinload(Comment.case)))


def find_existing(session: Session, *, external_ids: list[str]) -> dict[str, Comment]:
    if not external_ids:
        return {}
    rows = session.scalars(select(Comment).where(Comment.external_id.in_(external_ids)).options(
        selectinload(Comment.suggestion), selectinload(Comment.case)))
    return {c.external_id: c for c in rows}


def _suggestion(pred: Prediction, prepared: Prepared, now: datetime) -> Suggestion:
    return Suggestion(
        model_version=pred.model_version or "unknown", touchpoints=pred.touchpoints, aspects=pred.aspects,
        sentiment=pred.sentiment, urgency=pred.urgency, urgent_reasons=pred.urgent_reasons,
        probabilities={"touchpoints": pred.touchpoint_probabilities, "aspects": pred.aspect_probabilities,
                       "sentiment": pred.sentiment_probabilities, "urgency": pred.urgency_probabilities,
                       "urgent_reasons": pred.reason_probabilities},
        evidence=evidence_dict(pred, prepared) if pred.evidence else {}, needs_review=pred.needs_review,
        review_reasons=pred.review_reasons, created_at=now)


def _add_comment(session: Session, ctx: ServiceContext, *, item: NewComment, prepared: Prepared, pred: Prediction,
                 who: Principal, now: datetime) -> Ingested:
    comment = Comment(
        external_id=item.external_id, text=item.text, channel=item.channel,
        received_at=_aware(item.received_at, ctx.settings.timezone), department=item.department,
        ward=item.ward, truncated=prepared.truncated, created_at=now, created_by=who.actor,
        words=content_words(item.text),
        patient_hash=hash_patient_ref(item.patient_ref, ctx.settings.patient_ref_salt) if item.patient_ref else None,
    )
    session.add(comment)
    session.flush()
    suggestion = _suggestion(pred, prepared, now)
    suggestion.comment_id = comment.id
    session.add(suggestion)
    session.flush()
    comment.suggestion = suggestion
    record_aspects(session, comment=comment, touchpoints=pred.touchpoints, aspects=pred.aspects,
                   sentiment=pred.sentiment, source=MODEL, zone=ctx.routing.zone)
    open_case(session, ctx, comment=comment, suggestion=suggestion, now=now)
    praise_to = forward_praise(session, ctx, comment=comment, suggestion=suggestion, now=now)
    session.flush()
    return Ingested(_loaded(session, comment.id), True, praise_to)


def store_comments(ctx: ServiceContext, *, items: list[tuple[NewComment, Prepared, Prediction]], who: Principal
                   ) -> list[Ingested]:
    """One transaction for the whole list: every comment with its suggestion, case, timeline, timers and
    alerts, or nothing (a client retrying a failed list must not find half of it stored).

    An external id already stored, or repeated within the list, returns the stored comment with
    `created=False`."""
    try:
        return _store_once(ctx, items=items, who=who)
    except IntegrityError:
        # an external id committed meanwhile by a concurrent request: once more, and that one is found stored
        return _store_once(ctx, items=items, who=who)


def _store_once(ctx: ServiceContext, *, items: list[tuple[NewComment, Prepared, Prediction]], who: Principal
                ) -> list[Ingested]:
    now = ctx.clock.now()
    with transaction(ctx.factory) as session:
        known = find_existing(session, external_ids=[i.external_id for i, _, _ in items if i.external_id])
        out: list[Ingested] = []
        for item, prepared, pred in items:
            if item.external_id in known:
                out.append(Ingested(known[item.external_id], False, []))
                continue
            stored = _add_comment(session, ctx, item=item, prepared=prepared, pred=pred, who=who, now=now)
            if item.external_id:
                known[item.external_id] = stored.comment
            out.append(stored)
    return out


def store_evidence(ctx: ServiceContext, items: list[tuple[int, dict]]) -> None:
    with transaction(ctx.factory) as session:
        for comment_id, evidence in items:
            session.execute(update(Suggestion).where(Suggestion.comment_id == comment_id).values(evidence=evidence))


def get_comment(session: Session, *, comment_id: int) -> Comment:
    comment = session.scalar(select(Comment).where(Comment.id == comment_id).options(
        selectinload(Comment.suggestion), selectinload(Comment.case), selectinload(Comment.responses)))
    if comment is None:
        raise NotFound(f"no comment {comment_id}")
    return comment
