"""The audit log: one row per action a person takes, in the transaction of the action itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from pvoice.serving.db.models import AuditEntry
from pvoice.serving.services.auth import Principal


def audit(session: Session, *, who: Principal, action: str, target: str, now: datetime, **detail) -> None:
    session.add(AuditEntry(at=now, actor=who.actor, role=who.role.value, action=action, target=target, detail=detail))
