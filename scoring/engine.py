"""What scoring appends to each row, and the local engine that computes it in this process.

Both engines share `plan_chunk` and `score_texts`. The texts of a chunk are sorted by length and cut into
micro-batches of `batch_size`: similar lengths pad little (survey comments run from 2 to 2,000 characters,
so a batch of consecutive rows wastes much of its compute on padding), and since chunks have fixed
boundaries, each forward pass sees the same texts in either engine and in a resumed run, so the output is
the same to the last digit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from pvoice.model.results import Prediction

LIST_SEP = ";"  # touchpoint and reason ids never contain it; one flat string reads well in Excel
CONFIDENCE_DIGITS = 4
MODEL_ERROR = "model_error"


def appended_columns(touchpoints: Sequence[str]) -> list[tuple[str, str]]:
    """Names and kinds ("str" or "float") of the columns added after the input's own."""
    return [
        ("touchpoints", "str"),
        *[(f"aspect_{t}", "str") for t in touchpoints],
        ("sentiment", "str"),
        ("urgency", "str"),
        ("urgent_reasons", "str"),
        ("needs_review", "str"),
        ("review_reasons", "str"),
        ("urgent_score", "float"),
        ("sentiment_confidence", "float"),
        ("urgency_confidence", "float"),
        ("touchpoint_confidence", "float"),
        ("model_version", "str"),
        ("error", "str"),
    ]


def cell_problem(value: Any, max_chars: int) -> str | None:
    """Why a cell cannot be scored, or None when it holds text the model can read."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "empty_text"
    if not isinstance(value, str):
        return "not_text"  # a number, a date or a boolean where the comment should be
    if not value.strip():
        return "empty_text"
    if "\ufffd" in value:
        return "broken_encoding"  # bytes that the file's encoding could not read
    if not any(ch.isalpha() for ch in value):
        return "not_text"  # digits, punctuation or emoji only
    if len(value) > max_chars:
        return "too_long"
    return None


def prediction_values(pred: Prediction, touchpoints: Sequence[str]) -> dict[str, Any]:
    conf = pred.confidence
    return {
        "touchpoints": LIST_SEP.join(pred.touchpoints),
        **{f"aspect_{t}": pred.aspects.get(t) for t in touchpoints},
        "sentiment": pred.sentiment,
        "urgency": pred.urgency,
        "urgent_reasons": LIST_SEP.join(pred.urgent_reasons),
        "needs_review": "true" if pred.needs_review else "false",
        "review_reasons": LIST_SEP.join(pred.review_reasons),
        "urgent_score": round(pred.urgent_score, CONFIDENCE_DIGITS),
        "sentiment_confidence": round(conf["sentiment"], CONFIDENCE_DIGITS),
        "urgency_confidence": round(conf["urgency"], CONFIDENCE_DIGITS),
        "touchpoint_confidence": round(conf["touchpoints"], CONFIDENCE_DIGITS),
        "model_version": pred.model_version,
        "error": None,
    }


def error_values(code: str, touchpoints: Sequence[str], model_version: str) -> dict[str, Any]:
    values: dict[str, Any] = {name: None for name, _ in appended_columns(touchpoints)}
    values.update(model_version=model_version, error=code)
    return values


def plan_chunk(texts: Sequence[Any], problems: Sequence[str | None], batch_size: int,
               max_chars: int) -> tuple[list[list[int]], dict[int, str]]:
    """Micro-batches of chunk positions to score (by text length), and the error of each position not scored."""
    errors: dict[int, str] = {}
    valid: list[int] = []
    for i, value in enumerate(texts):
        code = problems[i] or cell_problem(value, max_chars)
        if code:
            errors[i] = code
        else:
            valid.append(i)
    valid.sort(key=lambda i: len(texts[i]))  # stable: ties keep row order
    return [valid[k:k + batch_size] for k in range(0, len(valid), batch_size)], errors


def score_texts(classifier, texts: list[str], batch_size: int) -> list[dict[str, Any]]:
    """Appended values for each text; a text the model fails on gets `model_error` instead of sinking the run."""
    tps = classifier.config.touchpoints
    try:
        return [prediction_values(p, tps) for p in classifier.predict(texts, batch_size=batch_size)]
    except Exception:
        if len(texts) == 1:
            return [error_values(MODEL_ERROR, tps, classifier.config.model_version)]
        return [row for text in texts for row in score_texts(classifier, [text], batch_size)]


def assemble(n: int, groups: list[list[int]], scored: list[list[dict]], errors: dict[int, str],
             touchpoints: Sequence[str], model_version: str) -> list[dict[str, Any]]:
    """The appended values of every row of a chunk, in row order."""
    out: list[dict[str, Any] | None] = [None] * n
    for positions, values in zip(groups, scored):
        for i, v in zip(positions, values):
            out[i] = v
    for i, code in errors.items():
        out[i] = error_values(code, touchpoints, model_version)
    return out  # type: ignore[return-value]


class LocalEngine:
    """Scores in this process with one loaded classifier."""

    name = "local"

    def __init__(self, classifier, batch_size: int, max_chars: int):
        self.classifier, self.batch_size, self.max_chars = classifier, batch_size, max_chars
        self.config = classifier.config

    def score(self, texts: Sequence[Any], problems: Sequence[str | None]) -> list[dict[str, Any]]:
        groups, errors = plan_chunk(texts, problems, self.batch_size, self.max_chars)
        scored = [score_texts(self.classifier, [texts[i] for i in g], self.batch_size) for g in groups]
        return assemble(len(texts), groups, scored, errors, self.config.touchpoints, self.config.model_version)

    def close(self) -> None:
        pass
