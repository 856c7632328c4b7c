"""From calibrated probabilities to labels: the thresholds of the config, applied in one place."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.config import ClassifierConfig
from model.results import Prediction


@dataclass
class HeadProbs:
    """Calibrated probabilities of one text, per head."""

    touchpoints: np.ndarray  # [T] independent sigmoids
    aspects: np.ndarray  # [T, S] softmax per touchpoint
    sentiment: np.ndarray  # [S]
    urgency: np.ndarray  # [U]
    urgent_reasons: np.ndarray  # [R] independent sigmoids


def _as_dict(names: list[str], values: np.ndarray) -> dict[str, float]:
    return {n: round(float(v), 6) for n, v in zip(names, values)}


def decide(text: str, probs: HeadProbs, config: ClassifierConfig) -> Prediction:
    tps, sents, urg, reasons = config.touchpoints, config.sentiments, config.urgency, config.reasons
    chosen = [t for i, t in enumerate(tps) if probs.touchpoints[i] >= config.touchpoint_thresholds[t]]
    if not chosen:  # the contract wants at least one touchpoint
        chosen = [tps[int(np.argmax(probs.touchpoints))]]
    p_urgent = probs.urgency[urg.index("urgent")]
    if p_urgent >= config.urgent_threshold:
        urgency = "urgent"
    else:
        others = [i for i, u in enumerate(urg) if u != "urgent"]
        urgency = urg[max(others, key=lambda i: probs.urgency[i])]
    chosen_reasons: list[str] = []
    if urgency == "urgent":
        chosen_reasons = [r for i, r in enumerate(reasons) if probs.urgent_reasons[i] >= config.reason_thresholds[r]]
        chosen_reasons = chosen_reasons or [reasons[int(np.argmax(probs.urgent_reasons))]]
    sentiment = sents[int(np.argmax(probs.sentiment))]
    if urgency == "urgent":  # an urgent comment is negative by the contract
        sentiment = "negative"
    return Prediction(
        text=text,
        touchpoints=chosen,
        aspects={t: sents[int(np.argmax(probs.aspects[tps.index(t)]))] for t in chosen},
        sentiment=sentiment,
        urgency=urgency,
        urgent_reasons=chosen_reasons,
        touchpoint_probabilities=_as_dict(tps, probs.touchpoints),
        aspect_probabilities={t: _as_dict(sents, probs.aspects[tps.index(t)]) for t in chosen},
        sentiment_probabilities=_as_dict(sents, probs.sentiment),
        urgency_probabilities=_as_dict(urg, probs.urgency),
        reason_probabilities=_as_dict(reasons, probs.urgent_reasons),
        model_version=config.model_version,
    )
