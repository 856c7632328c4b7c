"""SLA timers: an unacknowledged urgent case climbs its escalation chain, an unanswered complaint is reminded.

Each timer fires in its own transaction, which marks it fired and writes the escalation (case, event, alerts,
next timer) together: after a crash either all of it happened or none, so a restart neither loses nor
doubles a timer.

An urgent alert that cannot reach its target before its level's deadline (a permanent error, or a next try
at or after it) escalates the case at once instead of waiting for the timer: the level cannot acknowledge
what it never received. That happens in the transaction that records the failed try, once per alert.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from pvoice.serving.db.engine import is_postgres, transaction
from pvoice.serving.db.models import Case, OutboxAlert, Timer
from pvoice.serving.services.alert_texts import undeliverable_note
from pvoice.serving.services.context import ServiceContext
from pvoice.serving.services.triage import SYSTEM, add_event, alert_case, level_people, route_of

URGENT = "urgent"

log = logging.getLogger("pvoice.sla")


def cancel_timers(session: Session, *, case_id: int, kinds: tuple[str, ...], now: datetime) -> None:
    session.execute(
        update(Timer).where(Timer.case_id == case_id, Timer.kind.in_(kinds), Timer.fired_at.is_(None))
        .values(fired_at=now, outcome="cancelled").execution_options(synchronize_session=False))


def _escalate(session: Session, ctx: ServiceContext, case: Case, current: int, now: datetime, *,
              because: OutboxAlert | None = None) -> str:
    """Hand `case` from level `current` to the next one; `because`: the alert that could not reach `current`."""
    chain = ctx.routing.chain(route_of(ctx, case))
    nxt = current + 1
    if nxt >= len(chain):
        add_event(session, case, kind="sla_breached", actor=SYSTEM, now=now, level=current,
                  note="last escalation level reached without acknowledgement")
        return "exhausted"
    level = chain[nxt]
    people = level_people(ctx, level, nxt, now)
    minutes = (now - case.created_at).total_seconds() / 60
    case.escalation_level, case.assignee = nxt, people[0].id
    extra = f"已升级至：{level.role}（第 {nxt} 级）" + (f"\n{undeliverable_note(because)}" if because else "")
    keys = alert_case(session, ctx, case=case, comment=case.comment, people=people, event="escalated",
                      occurrence=f"escalated{nxt}", now=now, minutes=minutes, extra=extra)
    reason = {"reason": "alert_undeliverable", "alert": because.idempotency_key} if because else {}
    add_event(session, case, kind="escalated", actor=SYSTEM, now=now, level=nxt, to=level.name, role=level.role,
              assignee=case.assignee, recipients=[p.id for p in people], alerts=keys, **reason)
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


def _alert_level(case: Case, key: str) -> int | None:
    """The escalation level an alert of `case` was sent for, from the timeline that lists each level's alerts."""
    for event in case.events:
        if event.kind in ("alerted", "escalated") and key in (event.detail.get("alerts") or ()):
            return int(event.detail.get("level", 0))
    return None


def escalate_undeliverable(session: Session, ctx: ServiceContext, alert: OutboxAlert, now: datetime) -> str | None:
    """Escalate the case of an urgent `alert` that has just failed, if it cannot reach its target before its
    level's deadline and the case still waits at that level; once per alert. Returns what happened, or None
    when nothing needed doing (the alert may still arrive in time, or concerns no open urgent case)."""
    if alert.urgency != URGENT or alert.case_id is None or alert.escalated_at is not None:
        return None
    case = session.get(Case, alert.case_id, with_for_update=is_postgres(session))
    if case is None or case.status != "open" or case.urgency != URGENT:
        return None
    level = _alert_level(case, alert.idempotency_key)
    if level is None or level != case.escalation_level:
        return None  # a reminder, a reassignment, or a level the case has already left
    last = level + 1 >= len(ctx.routing.chain(route_of(ctx, case)))
    # the last level has no deadline of its own (nobody to hand over to): only its dead alerts are recorded
    in_time = alert.status != "dead" and (last or case.due_at is None or alert.next_attempt_at < case.due_at)
    if in_time:
        return None
    alert.escalated_at = now
    add_event(session, case, kind="alert_undeliverable", actor=SYSTEM, now=now, level=level,
              alert=alert.idempotency_key, recipient=alert.recipient, channel=alert.channel,
              status=alert.status, error_code=alert.last_error_code)
    if last:
        return "exhausted"
    # this level's timer would escalate a second time: the next level gets a timer of its own instead
    cancel_timers(session, case_id=case.id, kinds=("ack_due",), now=now)
    return _escalate(session, ctx, case, level, now, because=alert)


def _fire(session: Session, ctx: ServiceContext, timer: Timer, now: datetime) -> str:
    case = session.get(Case, timer.case_id, with_for_update=is_postgres(session))
    if timer.kind == "ack_due":
        if case.status != "open" or case.escalation_level != timer.level:
            return "moot"  # acknowledged, or escalated already because its alerts could not arrive
        return _escalate(session, ctx, case, timer.level, now)
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
