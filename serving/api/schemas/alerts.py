"""Schemas of /v1/alerts (the outbox) and of admin actions (keys, routing)."""

from __future__ import annotations

from datetime import datetime

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from pvoice.serving.api.schemas.common import InputModel


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


class KeyCreate(InputModel):
    role: Literal["intake", "agent", "manager", "admin"]
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] = ""


class KeyPublic(BaseModel):
    id: int
    role: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyPublic):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")
