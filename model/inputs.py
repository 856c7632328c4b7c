"""What every classifier checks of its input before predicting."""

from __future__ import annotations

from collections.abc import Sequence


class InputError(ValueError):
    """A text the classifier cannot take (empty, not a string)."""


def check_texts(texts: Sequence[str]) -> None:
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"texts[{i}] is {type(text).__name__}, expected a string")
        if not text.strip():
            raise InputError(f"texts[{i}] is empty or whitespace only")
