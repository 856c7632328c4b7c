"""Schemas of /v1/alerts (the outbox) and of admin actions."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class AlertPublic(BaseModel):
    id: int
    idempotency_key: str
    case_id: int | None
    comment_id: int | None
    event: str
    channel: str
    target: str
    recipient: str
    urgency: str
    title: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    last_error_code: str | None
    created_at: datetime
    delivered_at: datetime | None


class AlertsPublic(BaseModel):
    items: list[AlertPublic]
    count: int


class RoutingReloaded(BaseModel):
    people: int
    routes: int
