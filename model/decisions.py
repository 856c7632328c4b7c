"""From calibrated probabilities to labels: the thresholds of the config, applied in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pvoice.model.config import ClassifierConfig
from pvoice.model.results import Evidence, Prediction


@dataclass
class HeadProbs:
    """Calibrated probabilities of one text, per head."""

    touchpoints: np.ndarray  # [T] independent sigmoids
    aspects: np.ndarray  # [T, S] softmax per touchpoint
    sentiment: np.ndarray  # [S]
    urgency: np.ndarray  # [U]
    urgent_reasons: np.ndarray  # [R] independent sigmoids: the strongest sentence's, per reason
    sentence_reasons: np.ndarray | None = None  # [n_sentences, R]
    sentences: list[tuple[int, int]] = field(default_factory=list)  # character span of each sentence

    @property
    def urgent_score(self) -> float:
        """How strongly the comment's strongest sentence carries its strongest urgent reason."""
        return float(self.urgent_reasons.max())


def _as_dict(names: list[str], values: np.ndarray) -> dict[str, float]:
    return {n: round(float(v), 6) for n, v in zip(names, values)}


def _reasons_at(probs: HeadProbs, config: ClassifierConfig, thresholds: dict[str, float]) -> list[str]:
    chosen = [r for i, r in enumerate(config.reasons) if probs.urgent_reasons[i] >= thresholds[r]]
    return chosen or [config.reasons[int(np.argmax(probs.urgent_reasons))]]


def urgency_evidence(text: str, probs: HeadProbs, config: ClassifierConfig, reasons: list[str]) -> list[Evidence]:
    """The sentences that carry the chosen reasons, strongest first: what the page rests on."""
    if probs.sentence_reasons is None or not probs.sentences:
        return []
    idx = [config.reasons.index(r) for r in reasons]
    strength = probs.sentence_reasons[:, idx].max(axis=1)
    order = [int(i) for i in np.argsort(-strength) if strength[i] >= config.review_threshold][:2]
    return [Evidence(text[s:e], s, e, round(float(strength[i]), 6))
            for i in order for s, e in [probs.sentences[i]]]


def decide_urgency(probs: HeadProbs, config: ClassifierConfig) -> tuple[str, list[str], bool, list[str]]:
    """(urgency, urgent_reasons, needs_review, review_reasons) by the paging and review thresholds."""
    score = probs.urgent_score
    if score >= config.page_threshold:
        return "urgent", _reasons_at(probs, config, config.reason_thresholds), False, []
    if score >= config.review_threshold:
        review = {r: config.review_threshold for r in config.reasons}
        return "complaint", [], True, _reasons_at(probs, config, review)
    others = [i for i, u in enumerate(config.urgency) if u != "urgent"]
    return config.urgency[max(others, key=lambda i: probs.urgency[i])], [], False, []


def decide(text: str, probs: HeadProbs, config: ClassifierConfig) -> Prediction:
    tps, sents = config.touchpoints, config.sentiments
    chosen = [t for i, t in enumerate(tps) if probs.touchpoints[i] >= config.touchpoint_thresholds[t]]
    if not chosen:  # the contract wants at least one touchpoint
        chosen = [tps[int(np.argmax(probs.touchpoints))]]
    urgency, reasons, needs_review, review_reasons = decide_urgency(probs, config)
    sentiment = sents[int(np.argmax(probs.sentiment))]
    if urgency == "urgent":  # an urgent comment is negative by the contract
        sentiment = "negative"
    evidence = {}
    if reasons or review_reasons:
        evidence["urgency"] = urgency_evidence(text, probs, config, reasons or review_reasons)
    return Prediction(
        text=text,
        touchpoints=chosen,
        aspects={t: sents[int(np.argmax(probs.aspects[tps.index(t)]))] for t in chosen},
        sentiment=sentiment,
        urgency=urgency,
        urgent_reasons=reasons,
        touchpoint_probabilities=_as_dict(tps, probs.touchpoints),
        aspect_probabilities={t: _as_dict(sents, probs.aspects[tps.index(t)]) for t in chosen},
        sentiment_probabilities=_as_dict(sents, probs.sentiment),
        urgency_probabilities=_as_dict(config.urgency, probs.urgency),
        reason_probabilities=_as_dict(config.reasons, probs.urgent_reasons),
        evidence=evidence,
        urgent_score=round(probs.urgent_score, 6),
        needs_review=needs_review,
        review_reasons=review_reasons,
        model_version=config.model_version,
    )
