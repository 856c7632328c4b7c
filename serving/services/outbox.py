"""The alert outbox: rows written with the event that causes them, claimed and settled by the delivery worker.

Delivery is at-least-once: a row is claimed with a lease, sent, then settled; a worker that dies between send
and settle leaves the lease to expire and the row is sent again with the same idempotency key.

Each (channel, target) is a lane: while a send to a target is in flight (a row of it `sending` under a live
lease, in any process) no other row of that target is claimed, so one slow receiver holds up only itself.
A failing row is retried with capped exponential backoff until its retry window has passed, then it is dead.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from collections.abc import Callable, Collection

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from pvoice.serving.db.engine import is_postgres, transaction
from pvoice.serving.db.models import Case, Comment, OutboxAlert
from pvoice.serving.errors import Conflict, NotFound
from pvoice.serving.routing import Person

STATUSES = ("pending", "sending", "delivered", "failed", "dead")
DEAD_LETTER = "dead_letter"  # the event of the admin's page about a dead alert
SPIKE = "spike"  # the event (and urgency) of an alert about a spike of negative comments

Lane = tuple[str, str]  # (channel, target)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]


def _add_rows(session: Session, *, people: list[Person], key_prefix: str, event: str, case_id: int | None,
              comment_id: int | None, urgency: str, title: str, body: str, now: datetime,
              skip: Collection[Lane] = ()) -> list[OutboxAlert]:
    rows, seen = [], set(skip)
    for person in people:
        for target in person.alerts:
            if (target.channel, target.target) in seen:
                continue
            seen.add((target.channel, target.target))
            row = OutboxAlert(
                idempotency_key=f"{key_prefix}-{_digest(target.channel, target.target)}",
                case_id=case_id, comment_id=comment_id, event=event,
                channel=target.channel, target=target.target, recipient=person.id, urgency=urgency,
                title=title[:200], body_markdown=body, status="pending", attempts=0, next_attempt_at=now,
                created_at=now,
            )
            session.add(row)
            rows.append(row)
    session.flush()
    return rows


def enqueue(session: Session, *, people: list[Person], occurrence: str, event: str, case: Case | None,
            comment: Comment, urgency: str, title: str, body: str, now: datetime) -> list[OutboxAlert]:
    """One row per distinct (channel, target) of `people`; `occurrence` names this event of this case once."""
    subject = f"case{case.id}" if case is not None else f"comment{comment.id}"
    return _add_rows(session, people=people, key_prefix=f"pv-{subject}-{occurrence}", event=event,
                     case_id=case.id if case is not None else None, comment_id=comment.id, urgency=urgency,
                     title=title, body=body, now=now)


def enqueue_spike(session: Session, *, people: list[Person], cell_key: str, title: str, body: str, now: datetime
                  ) -> list[OutboxAlert]:
    """A spike of negative comments (managers' view), once per `cell_key` (its week, touchpoint and department)
    and target: no case or comment behind it, so the key names the cell."""
    return _add_rows(session, people=people, key_prefix=f"pv-spike-{cell_key}", event=SPIKE, case_id=None,
                     comment_id=None, urgency=SPIKE, title=title, body=body, now=now)


def enqueue_dead_letter(session: Session, *, dead: OutboxAlert, people: list[Person], title: str, body: str,
                        now: datetime) -> list[OutboxAlert]:
    """The admin's page about `dead`, once per dead alert; never to the target that just failed."""
    subject = f"case{dead.case_id}" if dead.case_id is not None else f"comment{dead.comment_id}"
    return _add_rows(session, people=people, key_prefix=f"pv-{subject}-dead{dead.id}", event=DEAD_LETTER,
                     case_id=dead.case_id, comment_id=dead.comment_id, urgency=dead.urgency, title=title, body=body,
                     now=now, skip=[(dead.channel, dead.target)])


def _due(now: datetime):
    return or_(
        and_(OutboxAlert.status.in_(("pending", "failed")), OutboxAlert.next_attempt_at <= now),
        and_(OutboxAlert.status == "sending", OutboxAlert.lease_until < now),
    )


def _lane_in_flight(now: datetime, token: str):
    """A row of the same (channel, target) is being sent under a live lease, by this process or another.
    Rows of this claim (`token`) do not count: SQLite re-evaluates the condition row by row during the UPDATE
    that claims them, and would otherwise let only the first row of each target through."""
    other = aliased(OutboxAlert)
    return exists().where(other.channel == OutboxAlert.channel, other.target == OutboxAlert.target,
                          other.status == "sending", other.lease_until >= now, other.claim_token != token)


def claim(factory: sessionmaker[Session], *, now: datetime, lease_seconds: float, limit: int = 200,
          lanes: int | None = None, busy: Collection[Lane] = ()) -> tuple[str, list[OutboxAlert]]:
    """Rows due now on at most `lanes` targets that have no send in flight (nor in `busy`, this process's own),
    up to `limit` rows a target, marked `sending` under a fresh token. PostgreSQL skips rows another worker
    holds; SQLite serialises writers, and the conditional UPDATE re-checks that a row is due and its lane free."""
    token = str(uuid.uuid4())
    with transaction(factory) as session:
        first = func.min(OutboxAlert.next_attempt_at)
        query = (select(OutboxAlert.channel, OutboxAlert.target).where(_due(now), ~_lane_in_flight(now, token))
                 .group_by(OutboxAlert.channel, OutboxAlert.target).order_by(first))
        if lanes is not None:
            query = query.limit(lanes + len(busy))
        free = [lane for lane in map(tuple, session.execute(query)) if lane not in busy][:lanes]
        ids = []
        for channel, target in free:
            rows = (select(OutboxAlert.id).where(OutboxAlert.channel == channel, OutboxAlert.target == target,
                                                 _due(now))
                    .order_by(OutboxAlert.next_attempt_at, OutboxAlert.id).limit(limit))
            if is_postgres(session):
                rows = rows.with_for_update(skip_locked=True)
            ids += session.scalars(rows)
        if not ids:
            return token, []
        session.execute(
            update(OutboxAlert).where(OutboxAlert.id.in_(ids), _due(now), ~_lane_in_flight(now, token))
            .values(status="sending", claim_token=token, lease_until=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False))
        rows = list(session.scalars(select(OutboxAlert).where(OutboxAlert.claim_token == token)
                                    .order_by(OutboxAlert.id)))
    return token, rows


@dataclass(frozen=True)
class RetryPolicy:
    window_seconds: float  # from the start of an alert's retry window to its last try
    base_seconds: float
    max_seconds: float

    def delay(self, attempts: int) -> float:
        """Exponential in the attempts made, with jitter so that alerts failing together do not retry together."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def mark_delivered(factory: sessionmaker[Session], *, ids: list[int], token: str, now: datetime) -> int:
    """Settle delivered rows; returns how many failed rows of the same targets were brought forward to now:
    a target that has just taken a send is back, and its alerts should not wait out their backoff."""
    if not ids:
        return 0
    with transaction(factory) as session:
        session.execute(
            update(OutboxAlert).where(OutboxAlert.id.in_(ids), OutboxAlert.claim_token == token)
            .values(status="delivered", delivered_at=now, lease_until=None, attempts=OutboxAlert.attempts + 1,
                    last_error=None, last_error_code=None)
            .execution_options(synchronize_session=False))
        lanes = set(session.execute(select(OutboxAlert.channel, OutboxAlert.target).where(OutboxAlert.id.in_(ids))
                                    .distinct()))
        hurried = 0
        for channel, target in lanes:
            hurried += session.execute(
                update(OutboxAlert).where(OutboxAlert.channel == channel, OutboxAlert.target == target,
                                          OutboxAlert.status == "failed", OutboxAlert.next_attempt_at > now,
                                          OutboxAlert.last_error_code != "rate_limited")
                .values(next_attempt_at=now).execution_options(synchronize_session=False)).rowcount
    return hurried


def mark_failed(factory: sessionmaker[Session], *, ids: list[int], token: str, now: datetime, error: str,
                code: str, retryable: bool, retry_after: float | None, counts: bool, policy: RetryPolicy,
                then: Callable[[Session, list[OutboxAlert]], None] | None = None) -> list[OutboxAlert]:
    """Record a failed try; returns the rows settled (each `failed` with its next try, or `dead`).

    `then` runs in the same transaction with those rows, so what a failure causes (an escalation, the admin's
    page about a dead letter) is written with it or not at all."""
    settled = []
    with transaction(factory) as session:
        rows = session.scalars(select(OutboxAlert).where(OutboxAlert.id.in_(ids), OutboxAlert.claim_token == token))
        for row in rows:
            # a receiver that only asked us to slow down has not failed: that try does not count, nor ends it
            row.attempts += 1 if counts else 0
            row.last_error, row.last_error_code, row.lease_until = error[:2000], code, None
            deadline = row.retry_deadline(policy.window_seconds)
            if not retryable or (counts and now >= deadline):
                row.status = "dead"
            else:
                row.status = "failed"
                wait = now + timedelta(seconds=max(policy.delay(row.attempts), retry_after or 0.0))
                # the last try falls on the deadline itself, so that no alert dies sooner than its window says
                row.next_attempt_at = min(wait, deadline) if counts and deadline > now else wait
            settled.append(row)
        if then is not None and settled:
            then(session, settled)
    return settled


def list_alerts(session: Session, *, status: str | None, case_id: int | None, limit: int, offset: int
                ) -> tuple[list[OutboxAlert], int]:
    query = select(OutboxAlert)
    if status:
        query = query.where(OutboxAlert.status == status)
    if case_id is not None:
        query = query.where(OutboxAlert.case_id == case_id)
    count = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(OutboxAlert.id.desc()).limit(limit).offset(offset))
    return list(rows), count


def retry_alert(session: Session, *, alert_id: int, now: datetime) -> OutboxAlert:
    row = session.get(OutboxAlert, alert_id)
    if row is None:
        raise NotFound(f"no alert {alert_id}")
    if row.status in ("delivered", "sending", "pending"):
        raise Conflict(f"alert {alert_id} is {row.status}; only failed or dead alerts can be retried")
    # a new window from now: an alert retried after a day of failures gets a full window again
    row.status, row.attempts, row.next_attempt_at, row.claim_token, row.retry_since = "pending", 0, now, None, now
    return row


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxAlert.status, func.count()).group_by(OutboxAlert.status))
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: n for status, n in rows})
    return counts
