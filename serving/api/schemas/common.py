"""Field types shared by the request and response schemas."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from pvoice.labels import load_taxonomy

MAX_TEXTS = 256  # per request, for /v1/classify and /v1/comments (an external contract)
TEXT_HARD_MAX = 100_000  # refused beyond this; above settings.max_text_chars a text is read by head and tail


DB_INT_MAX = 2**63 - 1  # a signed 64-bit column: beyond it the database raises instead of finding nothing
# Years a comment or a filter can sensibly name; outside them a time zone shift overflows Python's datetime
YEAR_MIN, YEAR_MAX = 1900, 2999
# Characters that draw nothing (format characters such as zero-width spaces and bidi marks, controls,
# separators): a text made only of them says nothing
_BLANK_CATEGORIES = ("Cf", "Cc", "Zs", "Zl", "Zp")


def _says_nothing(value: str) -> bool:
    return all(ch.isspace() or unicodedata.category(ch) in _BLANK_CATEGORIES for ch in value)


def _not_blank(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text contains a NUL character")
    if _says_nothing(value):
        raise ValueError("text is empty, whitespace or invisible characters only")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


def _sane_instant(value: datetime) -> datetime:
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise ValueError(f"year {value.year} is outside {YEAR_MIN}-{YEAR_MAX}")
    if value.tzinfo is not None:
        value.astimezone(timezone.utc)  # an offset that cannot be applied raises OverflowError -> 422 below
    return value


def _instant(value: datetime) -> datetime:
    try:
        return _sane_instant(value)
    except OverflowError as error:
        raise ValueError(f"time out of range: {error}") from error


def _known_channel(value: str) -> str:
    valid = load_taxonomy().channel_ids
    if value not in valid:
        raise ValueError(f"unknown channel {value!r}; valid: {', '.join(valid)}")
    return value


Text = Annotated[str, StringConstraints(max_length=TEXT_HARD_MAX), AfterValidator(_not_blank)]
Instant = Annotated[datetime, AfterValidator(_instant)]
# ids in paths and offsets in queries: out of a 64-bit column's range is a client error, not a database one
PathId = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
QueryId = Annotated[int, Query(ge=1, le=DB_INT_MAX)]
Offset = Annotated[int, Query(ge=0, le=DB_INT_MAX)]
Channel = Annotated[str, StringConstraints(max_length=32), AfterValidator(_known_channel),
                    Field(description="A channel id of data/taxonomy.yaml (survey, online_review, wechat, ...)")]
ShortStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                     AfterValidator(_no_nul)]
Note = Annotated[str, StringConstraints(max_length=4000), AfterValidator(_no_nul)]


def _find_nul(value, where: str = "") -> str | None:
    if isinstance(value, str):
        return where or "body" if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _find_nul(item, f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}".lstrip("."))
        if found:
            return found
    return None


class InputModel(BaseModel):
    """A request body. NUL is refused anywhere in it: PostgreSQL cannot store it in text, and no comment,
    note or id needs it."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_nul(cls, data):
        found = _find_nul(data)
        if found:
            raise ValueError(f"{found} contains a NUL character")
        return data


Limited = Annotated[str | None, Query(max_length=100), AfterValidator(lambda v: v if v is None else _no_nul(v))]
