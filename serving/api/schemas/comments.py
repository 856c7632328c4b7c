"""Schemas of /v1/comments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, field_validator

from pvoice.serving.api.schemas.common import MAX_TEXTS, Channel, InputModel, Instant, ShortStr, Text


class CommentCreate(InputModel):
    text: Text
    channel: Channel
    received_at: Instant = Field(description="ISO 8601; without a zone it is read in PVOICE_TIMEZONE.")
    department: ShortStr | None = None
    ward: ShortStr | None = None
    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = (
        Field(None, description="The sender's id: posting it again returns the stored result."))
    patient_ref: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="Stored only as a salted hash, to link a patient's comments.")


class CommentsCreate(InputModel):
    comments: Annotated[list[CommentCreate], Field(min_length=1, max_length=MAX_TEXTS,
                                                   description=f"One comment or a list of at most {MAX_TEXTS}.")]

    @field_validator("comments", mode="before")
    @classmethod
    def _one_as_list(cls, value):
        return [value] if isinstance(value, dict) else value


class LabelSet(BaseModel):
    touchpoints: list[str]
    aspects: dict[str, str]
    sentiment: str
    urgency: str
    urgent_reasons: list[str]


class CaseBrief(BaseModel):
    id: int
    status: str
    urgency: str
    assignee: str
    responsible_role: str
    due_at: datetime | None


class CommentResult(BaseModel):
    id: int
    external_id: str | None
    created: bool = Field(description="False when this external_id was already stored: the stored result.")
    truncated: bool
    labels: LabelSet
    needs_review: bool = Field(False, description="A complaint that may be urgent: its case waits for a person at "
                                                  "the patient-service center instead of paging the on-duty staff.")
    review_reasons: list[str] = []
    model_version: str
    case: CaseBrief | None
    praise_forwarded_to: list[str] = []


class CommentsResponse(BaseModel):
    items: list[CommentResult]


class CommentPublic(BaseModel):
    id: int
    external_id: str | None
    text: str = Field(description="Masked (phone, 身份证号, record numbers) unless the role may read them.")
    channel: str
    received_at: datetime
    department: str | None
    ward: str | None
    truncated: bool
    created_at: datetime
