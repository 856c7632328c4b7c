"""Schemas of human labels: `POST /v1/comments/{id}/labels`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from pvoice.serving.api.schemas.comments import LabelSet
from pvoice.serving.api.schemas.common import InputModel, Note

LabelId = Annotated[str, StringConstraints(max_length=32)]


class LabelsCreate(InputModel):
    touchpoints: Annotated[list[LabelId], Field(min_length=1, max_length=20)]
    aspects: dict[LabelId, LabelId] = Field(description="Sentiment per touchpoint; keys equal `touchpoints`.")
    sentiment: LabelId
    urgency: LabelId
    urgent_reasons: Annotated[list[LabelId], Field(max_length=10)] = []
    note: Note = ""


class SuggestionPublic(LabelSet):
    model_version: str
    needs_review: bool = False
    review_reasons: list[str] = []
    created_at: datetime


class ResponsePublic(LabelSet):
    id: int
    author: str
    created_at: datetime
    note: str
    suggestion_model_version: str = Field(description="The model version of the suggestion the person saw.")
    taxonomy_version: int


class CommentLabels(BaseModel):
    comment_id: int
    suggestion: SuggestionPublic
    responses: list[ResponsePublic]
