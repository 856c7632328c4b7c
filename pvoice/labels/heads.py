"""The one description of the classifier's heads: what each predicts, from which label list, and how.

Every component that handles per-head outputs (the model, the linear baseline, decisions, calibration,
losses, evaluation) reads the heads from here instead of spelling them out again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

# The label lists a saved model's config carries, keyed as in `Taxonomy.label_maps()`.
LABEL_LISTS = ("touchpoints", "sentiments", "urgency", "urgent_reasons")


@dataclass(frozen=True)
class Head:
    name: str
    kind: Literal["multi_label", "single"]
    labels: str  # the label list (one of LABEL_LISTS) whose ids are the head's classes
    per: str | None = None  # one distribution per id of this label list (aspects: per touchpoint)
    description: str = ""

    @property
    def activation(self) -> Literal["sigmoid", "softmax"]:
        return "sigmoid" if self.kind == "multi_label" else "softmax"


HEADS: tuple[Head, ...] = (
    Head("touchpoints", "multi_label", "touchpoints", description="which touchpoints the comment is about"),
    Head("aspects", "single", "sentiments", per="touchpoints", description="the sentiment of each touchpoint"),
    Head("sentiment", "single", "sentiments", description="the comment's overall sentiment"),
    Head("urgency", "single", "urgency", description="urgent, complaint or none"),
    Head("urgent_reasons", "multi_label", "urgent_reasons", description="why a comment is urgent"),
)
HEAD_NAMES: tuple[str, ...] = tuple(h.name for h in HEADS)
SOFTMAX_HEADS: tuple[str, ...] = tuple(h.name for h in HEADS if h.activation == "softmax")


def head(name: str) -> Head:
    for h in HEADS:
        if h.name == name:
            return h
    raise KeyError(f"no head {name!r}; heads: {', '.join(HEAD_NAMES)}")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def activate(name: str, logits: np.ndarray) -> np.ndarray:
    """Probabilities from a head's logits, by the head's activation."""
    return sigmoid(logits) if head(name).activation == "sigmoid" else softmax(logits)
