"""API keys (stored as a peppered hash, never in clear) and what each role may do."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvoice.serving.db.models import ApiKey
from pvoice.serving.errors import Forbidden, InvalidInput, NotFound, Unauthorized

KEY_PREFIX = "pv_"


class Role(StrEnum):
    intake = "intake"
    agent = "agent"
    manager = "manager"
    admin = "admin"


class Perm(StrEnum):
    classify = "classify"
    comments_create = "comments:create"
    comments_read = "comments:read"
    cases_read = "cases:read"
    cases_work = "cases:work"
    labels_write = "labels:write"
    labels_export = "labels:export"
    alerts_read = "alerts:read"
    alerts_retry = "alerts:retry"
    keys_manage = "keys:manage"
    routing_reload = "routing:reload"
    pii_read = "pii:read"
    insights_read = "insights:read"  # the managers' view of the web app: aggregates, trends, spikes


# Managers follow up with patients and correct labels, so they read texts unmasked; intake, agents and admins
# work from masked views: agents reach the patient through the case's channel, admins need no patient data.
PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.intake: frozenset({Perm.classify, Perm.comments_create}),
    Role.agent: frozenset({Perm.classify, Perm.comments_read, Perm.cases_read, Perm.cases_work}),
    Role.manager: frozenset({Perm.classify, Perm.comments_read, Perm.cases_read, Perm.cases_work, Perm.labels_write,
                             Perm.labels_export, Perm.alerts_read, Perm.pii_read, Perm.insights_read}),
    Role.admin: frozenset({Perm.classify, Perm.comments_read, Perm.cases_read, Perm.alerts_read, Perm.alerts_retry,
                           Perm.keys_manage, Perm.routing_reload}),
}


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        return f"{self.name or 'key'}#{self.key_id}"

    def can(self, perm: Perm) -> bool:
        return perm in PERMISSIONS[self.role]

    def require(self, perm: Perm) -> None:
        if not self.can(perm):
            raise Forbidden(f"role '{self.role}' may not {perm.value}")


def hash_key(key: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).hexdigest()


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(f"unknown role {value!r}; valid: {', '.join(r.value for r in Role)}", field="role") from None


def create_key(session: Session, *, role: str, name: str, pepper: str, now: datetime) -> tuple[ApiKey, str]:
    """A new key; the clear key is returned once and never stored."""
    clear = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(prefix=clear[:10], key_hash=hash_key(clear, pepper), role=parse_role(role).value, name=name,
                 created_at=now)
    session.add(row)
    session.flush()
    return row, clear


def authenticate(session: Session, *, key: str, pepper: str) -> Principal:
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key, pepper)))
    if row is None or row.revoked_at is not None:
        raise Unauthorized("invalid or revoked API key")
    return Principal(row.id, row.name, Role(row.role))


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(session: Session, *, key_id: int, now: datetime) -> ApiKey:
    row = session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"no API key {key_id}")
    if row.revoked_at is None:
        row.revoked_at = now
    return row
