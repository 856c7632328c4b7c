"""Web sign-ins: an API key opens a session; the browser keeps a random token in a cookie, the database only its
hash. A session ends when it expires, when its holder signs out, or when its key is revoked."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvoice.serving.db.models import ApiKey, WebSession
from pvoice.serving.errors import Forbidden, Unauthorized
from pvoice.serving.services.audit import audit
from pvoice.serving.services.auth import Principal, Role, authenticate, hash_key

class SessionRefused(Unauthorized):
    """No usable session; `reason` (required, unknown, signed_out, expired, key_revoked) tells the login page
    what to say."""

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason


# writing last_seen_at on every page view would make each read a write; once a minute is enough to see activity
LAST_SEEN_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SignedIn:
    """The holder of a valid session: who (the key's principal), the session row's id and its CSRF token."""

    principal: Principal
    session_id: int
    csrf_token: str
    expires_at: datetime


def sign_in(session: Session, *, key: str, pepper: str, hours: float, now: datetime, roles: Collection[Role]
            ) -> tuple[SignedIn, str]:
    """A new session for the holder of `key` (Unauthorized if the key is unknown or revoked; Forbidden if its
    role is not among `roles`, those with pages); returns it with the clear token for the cookie, which is never
    stored."""
    principal = authenticate(session, key=key, pepper=pepper)
    if principal.role not in roles:
        raise Forbidden(f"role '{principal.role}' has no pages: its keys are for systems that post to the API")
    token = secrets.token_urlsafe(32)
    row = WebSession(token_hash=hash_key(token, pepper), key_id=principal.key_id, role=principal.role.value,
                     csrf_token=secrets.token_urlsafe(32), created_at=now, expires_at=now + timedelta(hours=hours),
                     last_seen_at=now)
    session.add(row)
    session.flush()
    audit(session, who=principal, action="web.sign_in", target=f"web_session:{row.id}", now=now)
    return SignedIn(principal, row.id, row.csrf_token, row.expires_at), token


def session_of(session: Session, *, token: str | None, pepper: str, now: datetime) -> SignedIn:
    """The session a cookie token names, or Unauthorized: no token, a forged or unknown one, an expired or
    signed-out session, a revoked key. Refreshes `last_seen_at` at most once a minute (the caller commits)."""
    if not token:
        raise SessionRefused("not signed in", reason="required")
    row = session.scalar(select(WebSession).where(WebSession.token_hash == hash_key(token, pepper)))
    if row is None:
        raise SessionRefused("unknown session", reason="unknown")
    if row.revoked_at is not None:
        raise SessionRefused("signed out", reason="signed_out")
    if row.expires_at <= now:
        raise SessionRefused("session expired", reason="expired")
    key = session.get(ApiKey, row.key_id)
    if key is None or key.revoked_at is not None:
        raise SessionRefused("the key of this session has been revoked", reason="key_revoked")
    if now - row.last_seen_at >= LAST_SEEN_EVERY:
        row.last_seen_at = now
    return SignedIn(Principal(key.id, key.name, Role(key.role)), row.id, row.csrf_token, row.expires_at)


def sign_out(session: Session, *, session_id: int, who: Principal, now: datetime) -> None:
    row = session.get(WebSession, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
        audit(session, who=who, action="web.sign_out", target=f"web_session:{row.id}", now=now)
