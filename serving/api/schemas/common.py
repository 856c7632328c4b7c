"""Field types shared by the request and response schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from pvoice.labels import load_taxonomy

MAX_TEXTS = 256  # per request, for /v1/classify and /v1/comments (an external contract)
TEXT_HARD_MAX = 100_000  # refused beyond this; above settings.max_text_chars a text is read by head and tail


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("text is empty or whitespace only")
    return value


def _known_channel(value: str) -> str:
    valid = load_taxonomy().channel_ids
    if value not in valid:
        raise ValueError(f"unknown channel {value!r}; valid: {', '.join(valid)}")
    return value


Text = Annotated[str, StringConstraints(max_length=TEXT_HARD_MAX), AfterValidator(_not_blank)]
Channel = Annotated[str, StringConstraints(max_length=32), AfterValidator(_known_channel),
                    Field(description="A channel id of data/taxonomy.yaml (survey, online_review, wechat, ...)")]
ShortStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Note = Annotated[str, StringConstraints(max_length=4000)]
