"""Which input column holds the free text, by name or as the user says."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from pvoice.scoring.errors import NoTextColumn

# Names survey and complaint exports give their free-text column, best first. A column matches when its
# normalised name equals one of these; failing that, ends with one (Chinese and English compounds put the head
# noun last: "患者意见", "评价内容", "patient_comment"); failing that, contains one ("comment_raw").
TEXT_COLUMN_NAMES = (
    "意见", "建议", "意见建议", "意见或建议", "评价", "评论", "投诉内容", "内容", "留言", "反馈",
    "comment", "comments", "text", "feedback", "review", "content", "message", "opinion",
)


def _norm(name: object) -> str:
    return unicodedata.normalize("NFKC", str(name if name is not None else "")).strip().lower()


def find_text_column(columns: Sequence[str], requested: str | None = None) -> int:
    """Index of the text column: `requested` if given (exact, then case-insensitive), else a known name."""
    normalised = [_norm(c) for c in columns]
    if requested is not None:
        if requested in columns:
            return list(columns).index(requested)
        if _norm(requested) in normalised:
            return normalised.index(_norm(requested))
        raise NoTextColumn(f"--text-column {requested!r} is not a column of the input; columns: {_listing(columns)}")
    for name in TEXT_COLUMN_NAMES:
        if name in normalised:
            return normalised.index(name)
    for matches in (str.endswith, str.__contains__):
        for name in TEXT_COLUMN_NAMES:
            for i, col in enumerate(normalised):
                if matches(col, name):
                    return i
    raise NoTextColumn(
        f"no text column found; columns: {_listing(columns)}. "
        f"Name the one with the comments: --text-column NAME (known names: {', '.join(TEXT_COLUMN_NAMES)})")


def _listing(columns: Sequence[str]) -> str:
    return ", ".join(repr(c) for c in columns) or "(none)"
