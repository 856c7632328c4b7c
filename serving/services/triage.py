"""Triage: which comments open a case, who gets it, who is alerted, and which SLA timer starts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from pvoice.serving.db.models import Case, CaseEvent, CaseReason, CaseTouchpoint, Comment, Suggestion, Timer
from pvoice.serving.routing import Level, Person, Route, add_working_days
from pvoice.serving.services.context import ServiceContext
from pvoice.serving.services.messages import render_case_alert, render_praise
from pvoice.serving.services.outbox import enqueue

CASE_URGENCIES = ("urgent", "complaint")
SYSTEM = "system"


def ranked_touchpoints(suggestion: Suggestion) -> list[str]:
    """The decided touchpoints, most probable first: the first one with a route decides who is responsible."""
    probs = suggestion.probabilities.get("touchpoints", {})
    return sorted(suggestion.touchpoints, key=lambda t: -probs.get(t, 0.0))


def route_of(ctx: ServiceContext, case: Case) -> Route | None:
    return next((r for r in ctx.routing.routes if r.id == case.route), None)


def level_people(ctx: ServiceContext, level: Level, index: int, now: datetime) -> list[Person]:
    if index == 0:
        return ctx.routing.reachable(level.people, now)
    # escalations go to the level's own people, on duty or not: they are the ones who must know
    return ctx.routing.on_duty(level.people, now) or [ctx.routing.people[p] for p in level.people]


def add_event(session: Session, case: Case, *, kind: str, actor: str, now: datetime, **detail) -> CaseEvent:
    event = CaseEvent(case_id=case.id, at=now, actor=actor, kind=kind, detail=detail)
    session.add(event)
    session.flush()
    return event


def alert_case(session: Session, ctx: ServiceContext, *, case: Case, comment: Comment, people: list[Person],
               event: str, occurrence: str, now: datetime, minutes: float = 0, extra: str = "") -> list[str]:
    reasons = comment.suggestion.urgent_reasons if comment.suggestion else []
    title, body = render_case_alert(case=case, comment=comment, reasons=reasons, event=event, taxonomy=ctx.taxonomy,
                                    zone=ctx.routing.zone, minutes=minutes, extra=extra)
    rows = enqueue(session, people=people, occurrence=occurrence, event=event, case=case, comment=comment,
                   urgency=case.urgency, title=title, body=body, now=now)
    return [r.idempotency_key for r in rows]


def _answer_due(ctx: ServiceContext, now: datetime) -> datetime:
    local = now.astimezone(ctx.routing.zone)
    return add_working_days(local, ctx.settings.sla_complaint_working_days, ctx.calendar).astimezone(now.tzinfo)


def open_case(session: Session, ctx: ServiceContext, *, comment: Comment, suggestion: Suggestion, now: datetime
              ) -> Case | None:
    if suggestion.urgency not in CASE_URGENCIES:
        return None
    ranked = ranked_touchpoints(suggestion)
    route = ctx.routing.route_for(ranked, comment.department)
    urgent = suggestion.urgency == "urgent"
    answer_due = _answer_due(ctx, now)  # every case is to be answered within the working days of the SLA
    if urgent:
        level = ctx.routing.chain(route)[0]
        people = level_people(ctx, level, 0, now)
        due = ack_due = now + timedelta(minutes=ctx.settings.sla_urgent_ack_minutes)
    else:  # complaints queue at the patient-service center, whoever is responsible for the touchpoint; so do
        # comments in the review band (possibly urgent): a person there decides, the on-duty staff are not paged
        people = ctx.routing.reachable(ctx.routing.fallback.people, now)
        due, ack_due = answer_due, None
    case = Case(
        comment_id=comment.id, status="open", urgency=suggestion.urgency, department=comment.department,
        responsible_role=route.role if route else ctx.routing.fallback.role, route=route.id if route else "fallback",
        assignee=people[0].id, escalation_level=0, needs_review=suggestion.needs_review, created_at=now, due_at=due,
        touchpoints=[CaseTouchpoint(touchpoint=t) for t in ranked], ack_due_at=ack_due,
        answer_due_at=answer_due, received_at=comment.received_at, channel=comment.channel,
    )
    session.add(case)
    session.flush()
    session.add_all(CaseReason(case_id=case.id, reason=r) for r in dict.fromkeys(suggestion.urgent_reasons))
    add_event(session, case, kind="opened", actor=SYSTEM, now=now, urgency=case.urgency, route=case.route,
              assignee=case.assignee, model_version=suggestion.model_version,
              **({"needs_review": True, "review_reasons": suggestion.review_reasons} if case.needs_review else {}))
    session.add(Timer(case_id=case.id, kind="ack_due" if urgent else "answer_due", level=0, due_at=due))
    if urgent or ctx.settings.alert_on_complaint:
        keys = alert_case(session, ctx, case=case, comment=comment, people=people, event="opened",
                          occurrence="opened", now=now)
        add_event(session, case, kind="alerted", actor=SYSTEM, now=now, recipients=[p.id for p in people],
                  alerts=keys)
    return case


def forward_praise(session: Session, ctx: ServiceContext, *, comment: Comment, suggestion: Suggestion,
                   now: datetime) -> list[str]:
    """Praise naming listed staff goes to them; returns the person ids it went to."""
    if not ctx.settings.praise_forwarding or suggestion.urgency != "none" or suggestion.sentiment != "positive":
        return []
    staff = ctx.routing.praised_staff(comment.text)
    for person in staff:
        title, body = render_praise(comment=comment, person_name=person.name, taxonomy=ctx.taxonomy,
                                    zone=ctx.routing.zone)
        enqueue(session, people=[person], occurrence=f"praise-{person.id}", event="praise", case=None,
                comment=comment, urgency="none", title=title, body=body, now=now)
    return [p.id for p in staff]
