"""Working cases: list, read, acknowledge, resolve, reassign. Every action is on the timeline and audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case as when, func, select
from sqlalchemy.orm import Session, selectinload

from pvoice.serving.db.models import Case, CaseTouchpoint, Comment
from pvoice.serving.errors import Conflict, InvalidInput, NotFound
from pvoice.serving.services.audit import audit
from pvoice.serving.services.auth import Principal
from pvoice.serving.services.context import ServiceContext
from pvoice.serving.services.sla import cancel_timers
from pvoice.serving.services.triage import add_event, alert_case

STATUSES = ("open", "acknowledged", "resolved")
ORDERS = ("newest", "priority")


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    urgency: str | None = None
    touchpoint: str | None = None
    department: str | None = None
    assignee: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    needs_review: bool | None = None
    unresolved: bool = False  # open and acknowledged cases: the work still to do


def list_cases(session: Session, *, filters: CaseFilter, limit: int, offset: int, order: str = "newest"
               ) -> tuple[list[Case], int]:
    """`order`: newest first, or `priority` (the desk's): urgent first, then open before acknowledged, then the
    nearest deadline."""
    query = select(Case)
    if filters.status:
        query = query.where(Case.status == filters.status)
    if filters.unresolved:
        query = query.where(Case.status != "resolved")
    if filters.urgency:
        query = query.where(Case.urgency == filters.urgency)
    if filters.department:
        query = query.where(Case.department == filters.department)
    if filters.assignee:
        query = query.where(Case.assignee == filters.assignee)
    if filters.touchpoint:
        query = query.where(Case.id.in_(select(CaseTouchpoint.case_id)
                                        .where(CaseTouchpoint.touchpoint == filters.touchpoint)))
    if filters.needs_review is not None:
        query = query.where(Case.needs_review == filters.needs_review)
    if filters.created_from:
        query = query.where(Case.created_at >= filters.created_from)
    if filters.created_to:
        query = query.where(Case.created_at < filters.created_to)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    if order == "priority":
        ordering = (when((Case.urgency == "urgent", 0), else_=1), when((Case.status == "open", 0), else_=1),
                    when((Case.due_at.is_(None), 1), else_=0), Case.due_at, Case.id.desc())
    else:
        ordering = (Case.created_at.desc(), Case.id.desc())
    rows = session.scalars(query.options(selectinload(Case.comment).selectinload(Comment.suggestion))
                           .order_by(*ordering).limit(limit).offset(offset))
    return list(rows), count


def get_case(session: Session, *, case_id: int) -> Case:
    case = session.get(Case, case_id, options=[selectinload(Case.events), selectinload(Case.comment)])
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case


def acknowledge(session: Session, ctx: ServiceContext, *, case_id: int, who: Principal, note: str, now: datetime
                ) -> Case:
    case = get_case(session, case_id=case_id)
    if case.status != "open":
        raise Conflict(f"case {case_id} is already {case.status}")
    case.status, case.acknowledged_at, case.acknowledged_by = "acknowledged", now, who.actor
    cancel_timers(session, case_id=case.id, kinds=("ack_due",), now=now)
    add_event(session, case, kind="acknowledged", actor=who.actor, now=now, note=note)
    audit(session, who=who, action="case.acknowledge", target=f"case:{case.id}", now=now, note=note)
    return case


def resolve(session: Session, ctx: ServiceContext, *, case_id: int, who: Principal, note: str, now: datetime
            ) -> Case:
    case = get_case(session, case_id=case_id)
    if case.status == "resolved":
        raise Conflict(f"case {case_id} is already resolved")
    if case.acknowledged_at is None:  # resolving answers the alert too
        case.acknowledged_at, case.acknowledged_by = now, who.actor
    case.status, case.resolved_at, case.resolved_by, case.resolution_note = "resolved", now, who.actor, note
    cancel_timers(session, case_id=case.id, kinds=("ack_due", "answer_due"), now=now)
    add_event(session, case, kind="resolved", actor=who.actor, now=now, note=note)
    audit(session, who=who, action="case.resolve", target=f"case:{case.id}", now=now, note=note)
    return case


def reassign(session: Session, ctx: ServiceContext, *, case_id: int, who: Principal, assignee: str, note: str,
             now: datetime) -> Case:
    person = ctx.routing.people.get(assignee)
    if person is None:
        raise InvalidInput(f"unknown person {assignee!r}; use a person id from the routing file", field="assignee")
    case = get_case(session, case_id=case_id)
    if case.status == "resolved":
        raise Conflict(f"case {case_id} is resolved; it cannot be reassigned")
    previous, case.assignee = case.assignee, person.id
    event = add_event(session, case, kind="reassigned", actor=who.actor, now=now, previous=previous,
                      assignee=person.id, note=note)
    keys = alert_case(session, ctx, case=case, comment=case.comment, people=[person], event="reassigned",
                      occurrence=f"reassigned{event.id}", now=now, extra=f"转派说明：{note}" if note else "")
    event.detail = {**event.detail, "alerts": keys}
    audit(session, who=who, action="case.reassign", target=f"case:{case.id}", now=now, previous=previous,
          assignee=person.id, note=note)
    return case


def add_note(session: Session, ctx: ServiceContext, *, case_id: int, who: Principal, note: str, now: datetime
             ) -> Case:
    """A staff note on the timeline (a call made, what the family said); it changes nothing else."""
    if not note.strip():
        raise InvalidInput("a note needs some text", field="note")
    case = get_case(session, case_id=case_id)
    add_event(session, case, kind="note", actor=who.actor, now=now, note=note)
    audit(session, who=who, action="case.note", target=f"case:{case.id}", now=now, note=note)
    return case


def open_counts(session: Session) -> dict[tuple[str, str], int]:
    """Cases not yet resolved, per (status, urgency), for the metrics."""
    rows = session.execute(select(Case.status, Case.urgency, func.count()).where(Case.status != "resolved")
                           .group_by(Case.status, Case.urgency))
    return {(status, urgency): n for status, urgency, n in rows}
