"""Schemas of /v1/classify."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from pvoice.serving.api.schemas.common import MAX_TEXTS, InputModel, Text


class ClassifyRequest(InputModel):
    texts: Annotated[list[Text], Field(min_length=1, max_length=MAX_TEXTS)] = Field(
        description=f"One text or a list of at most {MAX_TEXTS}; texts over 5,000 characters are read by head "
                    "and tail and flagged `truncated`.")
    evidence: bool | None = Field(None, description="Return the words behind each decision (default: on).")

    @field_validator("texts", mode="before")
    @classmethod
    def _one_as_list(cls, value):
        return [value] if isinstance(value, str) else value


class EvidenceSpan(BaseModel):
    text: str
    start: int
    end: int
    weight: float


class Probabilities(BaseModel):
    touchpoints: dict[str, float]
    aspects: dict[str, dict[str, float]]
    sentiment: dict[str, float]
    urgency: dict[str, float]
    urgent_reasons: dict[str, float]


class Classification(BaseModel):
    touchpoints: list[str]
    aspects: dict[str, str]
    sentiment: str
    urgency: str
    urgent_reasons: list[str]
    probabilities: Probabilities
    urgent_score: float = Field(description="The strongest sentence's strongest urgent-reason probability.")
    needs_review: bool = Field(description="Between the review and the paging threshold: a complaint that may be "
                                           "urgent, for a person to decide.")
    review_reasons: list[str] = Field(description="The candidate reasons of a comment that needs review.")
    evidence: dict[str, list[EvidenceSpan]] | None = Field(
        None, description="Per decided touchpoint: the spans whose removal lowers it most; for `urgency`, the "
                          "sentences an urgent or review decision rests on.")
    truncated: bool
    model_version: str


class ClassifyResponse(BaseModel):
    items: list[Classification]
