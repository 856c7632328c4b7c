"""SLA timers: an unacknowledged urgent case climbs its escalation chain, an unanswered complaint is reminded.

Each timer fires in its own transaction, which marks it fired and writes the escalation (case, event, alerts,
next timer) together: after a crash either all of it happened or none, so a restart neither loses nor
doubles a timer.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pvoice.serving.db.engine import is_postgres, transaction
from pvoice.serving.db.models import Case, Timer
from pvoice.serving.services.context import ServiceContext
from pvoice.serving.services.triage import SYSTEM, add_event, alert_case, level_people, route_of

log = logging.getLogger("pvoice.sla")


def cancel_timers(session: Session, *, case_id: int, kinds: tuple[str, ...], now: datetime) -> None:
    session.execute(
        update(Timer).where(Timer.case_id == case_id, Timer.kind.in_(kinds), Timer.fired_at.is_(None))
        .values(fired_at=now, outcome="cancelled").execution_options(synchronize_session=False))


def _escalate(session: Session, ctx: ServiceContext, case: Case, timer: Timer, now: datetime) -> str:
    chain = ctx.routing.chain(route_of(ctx, case))
    nxt = timer.level + 1
    if nxt >= len(chain):
        add_event(session, case, kind="sla_breached", actor=SYSTEM, now=now, level=timer.level,
                  note="last escalation level reached without acknowledgement")
        return "exhausted"
    level = chain[nxt]
    people = level_people(ctx, level, nxt, now)
    minutes = (now - case.created_at).total_seconds() / 60
    case.escalation_level, case.assignee = nxt, people[0].id
    keys = alert_case(session, ctx, case=case, comment=case.comment, people=people, event="escalated",
                      occurrence=f"escalated{nxt}", now=now, minutes=minutes,
                      extra=f"已升级至：{level.role}（第 {nxt} 级）")
    add_event(session, case, kind="escalated", actor=SYSTEM, now=now, level=nxt, to=level.name, role=level.role,
              assignee=case.assignee, recipients=[p.id for p in people], alerts=keys)
    if nxt + 1 < len(chain):
        due = now + timedelta(minutes=ctx.settings.sla_escalation_minutes)
        session.add(Timer(case_id=case.id, kind="ack_due", level=nxt, due_at=due))
        case.due_at = due
    return "escalated"


def _remind(session: Session, ctx: ServiceContext, case: Case, timer: Timer, now: datetime) -> str:
    route = route_of(ctx, case)
    ids = list(dict.fromkeys([case.assignee, *(route.people if route else ())]))
    people = [ctx.routing.people[p] for p in ids if p in ctx.routing.people]
    people = people or ctx.routing.reachable(ctx.routing.fallback.people, now)
    keys = alert_case(session, ctx, case=case, comment=case.comment, people=people, event="reminder",
                      occurrence=f"reminder{timer.id}", now=now)
    add_event(session, case, kind="reminded", actor=SYSTEM, now=now, recipients=[p.id for p in people], alerts=keys)
    return "reminded"


def _fire(session: Session, ctx: ServiceContext, timer: Timer, now: datetime) -> str:
    case = session.get(Case, timer.case_id)
    if timer.kind == "ack_due":
        return _escalate(session, ctx, case, timer, now) if case.status == "open" else "moot"
    if timer.kind == "answer_due":
        return _remind(session, ctx, case, timer, now) if case.status != "resolved" else "moot"
    log.warning("unknown timer kind", extra={"timer": timer.id, "kind": timer.kind})
    return "unknown"


def fire_due_timers(ctx: ServiceContext, *, now: datetime | None = None, limit: int = 100) -> int:
    """Fire every timer due at `now`; returns how many this call fired."""
    now = now or ctx.clock.now()
    with ctx.factory() as session:
        ids = list(session.scalars(select(Timer.id).where(Timer.fired_at.is_(None), Timer.due_at <= now)
                                   .order_by(Timer.due_at).limit(limit)))
    fired = 0
    for timer_id in ids:
        with transaction(ctx.factory) as session:
            query = select(Timer).where(Timer.id == timer_id, Timer.fired_at.is_(None))
            if is_postgres(session):
                query = query.with_for_update(skip_locked=True)
            timer = session.scalar(query)
            if timer is None:
                continue  # another worker has it
            # claim by update: on SQLite the conditional write is what keeps two processes from both firing it
            claimed = session.execute(update(Timer).where(Timer.id == timer_id, Timer.fired_at.is_(None))
                                      .values(fired_at=now).execution_options(synchronize_session=False))
            if claimed.rowcount != 1:
                continue
            timer.outcome = _fire(session, ctx, timer, now)
            fired += 1
    if fired:
        ctx.notify()
    return fired
