"""Typed prediction results: labels, calibrated probabilities and the evidence behind them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Evidence:
    """A span of the input (a jieba word or a run of words) and how much it drove a decision."""

    text: str
    start: int
    end: int
    weight: float


@dataclass
class Prediction:
    text: str
    touchpoints: list[str]
    aspects: dict[str, str]
    sentiment: str
    urgency: str
    urgent_reasons: list[str]
    touchpoint_probabilities: dict[str, float]
    aspect_probabilities: dict[str, dict[str, float]]
    sentiment_probabilities: dict[str, float]
    urgency_probabilities: dict[str, float]
    reason_probabilities: dict[str, float]
    # keyed by touchpoint id, plus "urgency" for the urgency decision
    evidence: dict[str, list[Evidence]] = field(default_factory=dict)
    # urgency rests on sentences: the highest urgent-reason probability of any sentence; between the review
    # and the paging threshold a comment is a complaint that a person should look at (`needs_review`)
    urgent_score: float = 0.0
    needs_review: bool = False
    review_reasons: list[str] = field(default_factory=list)
    # the number of overlapping model windows the text was read in (nothing of it is dropped)
    windows: int = 1
    model_version: str = ""

    @property
    def windowed(self) -> bool:
        """Longer than one model window, so read in several."""
        return self.windows > 1

    @property
    def confidence(self) -> dict[str, float]:
        """Probability of each decided single label, for sorting and review queues."""
        return {
            "sentiment": self.sentiment_probabilities[self.sentiment],
            # an urgent decision rests on its sentences' reason probability, not on the comment-level head
            "urgency": self.urgent_score if self.urgency == "urgent" else self.urgency_probabilities[self.urgency],
            "touchpoints": min(self.touchpoint_probabilities[t] for t in self.touchpoints),
        }

    def to_dict(self) -> dict:
        return asdict(self)
