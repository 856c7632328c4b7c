"""The alert outbox: rows written with the event that causes them, claimed and settled by the delivery worker.

Delivery is at-least-once: a row is claimed with a lease, sent, then settled; a worker that dies between send
and settle leaves the lease to expire and the row is sent again with the same idempotency key.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from pvoice.serving.db.engine import is_postgres, transaction
from pvoice.serving.db.models import Case, Comment, OutboxAlert
from pvoice.serving.errors import Conflict, NotFound
from pvoice.serving.routing import Person

STATUSES = ("pending", "sending", "delivered", "failed", "dead")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12]


def enqueue(session: Session, *, people: list[Person], occurrence: str, event: str, case: Case | None,
            comment: Comment, urgency: str, title: str, body: str, now: datetime) -> list[OutboxAlert]:
    """One row per distinct (channel, target) of `people`; `occurrence` names this event of this case once."""
    subject = f"case{case.id}" if case is not None else f"comment{comment.id}"
    rows, seen = [], set()
    for person in people:
        for target in person.alerts:
            if (target.channel, target.target) in seen:
                continue
            seen.add((target.channel, target.target))
            row = OutboxAlert(
                idempotency_key=f"pv-{subject}-{occurrence}-{_digest(target.channel, target.target)}",
                case_id=case.id if case is not None else None, comment_id=comment.id, event=event,
                channel=target.channel, target=target.target, recipient=person.id, urgency=urgency,
                title=title[:200], body_markdown=body, status="pending", attempts=0, next_attempt_at=now,
                created_at=now,
            )
            session.add(row)
            rows.append(row)
    session.flush()
    return rows


def _due(now: datetime):
    return or_(
        and_(OutboxAlert.status.in_(("pending", "failed")), OutboxAlert.next_attempt_at <= now),
        and_(OutboxAlert.status == "sending", OutboxAlert.lease_until < now),
    )


def claim(factory: sessionmaker[Session], *, now: datetime, lease_seconds: float, limit: int = 200
          ) -> tuple[str, list[OutboxAlert]]:
    """Rows due now, marked `sending` under a fresh token. PostgreSQL skips rows another worker holds;
    SQLite serialises writers, and the conditional UPDATE re-checks that a row is still due."""
    token = str(uuid.uuid4())
    with transaction(factory) as session:
        query = select(OutboxAlert.id).where(_due(now)).order_by(OutboxAlert.next_attempt_at, OutboxAlert.id)
        query = query.limit(limit)
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        if not ids:
            return token, []
        session.execute(
            update(OutboxAlert).where(OutboxAlert.id.in_(ids), _due(now))
            .values(status="sending", claim_token=token, lease_until=now + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False))
        rows = list(session.scalars(select(OutboxAlert).where(OutboxAlert.claim_token == token)
                                    .order_by(OutboxAlert.id)))
    return token, rows


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def delay(self, attempts: int) -> float:
        """Exponential in the attempts made, with jitter so that alerts failing together do not retry together."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** max(attempts - 1, 0))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def mark_delivered(factory: sessionmaker[Session], *, ids: list[int], token: str, now: datetime) -> None:
    if not ids:
        return
    with transaction(factory) as session:
        session.execute(
            update(OutboxAlert).where(OutboxAlert.id.in_(ids), OutboxAlert.claim_token == token)
            .values(status="delivered", delivered_at=now, lease_until=None, attempts=OutboxAlert.attempts + 1,
                    last_error=None, last_error_code=None)
            .execution_options(synchronize_session=False))


def mark_failed(factory: sessionmaker[Session], *, ids: list[int], token: str, now: datetime, error: str,
                code: str, retryable: bool, retry_after: float | None, counts: bool, policy: RetryPolicy
                ) -> list[OutboxAlert]:
    """Record a failed try; returns the rows that are now dead letters."""
    dead = []
    with transaction(factory) as session:
        rows = session.scalars(select(OutboxAlert).where(OutboxAlert.id.in_(ids), OutboxAlert.claim_token == token))
        for row in rows:
            # a receiver that only asked us to slow down has not failed: that try does not count
            row.attempts += 1 if counts else 0
            row.last_error, row.last_error_code, row.lease_until = error[:2000], code, None
            if not retryable or row.attempts >= policy.max_attempts:
                row.status = "dead"
                dead.append(row)
            else:
                row.status = "failed"
                wait = max(policy.delay(row.attempts), retry_after or 0.0)
                row.next_attempt_at = now + timedelta(seconds=wait)
    return dead


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
    row.status, row.attempts, row.next_attempt_at, row.claim_token = "pending", 0, now, None
    return row


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxAlert.status, func.count()).group_by(OutboxAlert.status))
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: n for status, n in rows})
    return counts
