"""Schemas of /v1/cases."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from pvoice.serving.api.schemas.alerts import AlertPublic
from pvoice.serving.api.schemas.comments import CommentPublic, LabelSet
from pvoice.serving.api.schemas.common import InputModel, Note, ShortStr


class Suggested(LabelSet):
    model_version: str
    evidence: dict[str, list[dict]] = {}
    needs_review: bool = False
    review_reasons: list[str] = []


class CaseEventPublic(BaseModel):
    at: datetime
    actor: str
    kind: str
    detail: dict


class CasePublic(BaseModel):
    id: int
    status: str
    urgency: str
    touchpoints: list[str]
    department: str | None
    responsible_role: str
    route: str
    assignee: str
    escalation_level: int
    needs_review: bool = Field(False, description="A complaint that may be urgent: queued for a person to decide.")
    created_at: datetime
    due_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None
    comment: CommentPublic
    suggestion: Suggested | None


class CaseDetail(CasePublic):
    timeline: list[CaseEventPublic]
    alerts: list[AlertPublic] = Field(description="Every alert of the case with its delivery state.")


class CasesPublic(BaseModel):
    items: list[CasePublic]
    count: int = Field(description="All cases matching the filters, not only this page.")


class CaseAck(InputModel):
    note: Note = ""


class CaseResolve(InputModel):
    note: Note = Field(min_length=1, description="The resolution: what was done or answered.")


class CaseNote(InputModel):
    note: Note = Field(min_length=1, description="What was done or learned; the case's status does not change.")


class CaseReassign(InputModel):
    assignee: ShortStr = Field(description="A person id of the routing file.")
    note: Note = ""
