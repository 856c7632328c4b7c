"""Fitting on dev what the heads cannot learn from training alone: temperatures and thresholds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pvoice.labels import HEAD_NAMES, head
from pvoice.model.config import ClassifierConfig
from pvoice.model.decisions import HeadProbs

TEMPERATURES = np.exp(np.linspace(np.log(0.4), np.log(4.0), 41))
THRESHOLDS = np.round(np.arange(0.1, 0.91, 0.05), 2)
EPS = 1e-7


def _softmax_nll(log_p: np.ndarray, y: np.ndarray, t: float) -> float:
    z = log_p / t
    z = z - np.log(np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True)) - z.max(-1, keepdims=True)
    return float(-z[np.arange(len(y)), y].mean())


def fit_softmax_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising dev NLL; scaling log-probabilities equals scaling logits under softmax."""
    if len(y) == 0:
        return 1.0
    log_p = np.log(np.clip(probs, EPS, 1.0))
    return float(min(TEMPERATURES, key=lambda t: _softmax_nll(log_p, y, t)))


def fit_sigmoid_temperature(probs: np.ndarray, y: np.ndarray) -> float:
    if y.size == 0:
        return 1.0
    logit = np.log(np.clip(probs, EPS, 1 - EPS) / np.clip(1 - probs, EPS, 1.0))

    def nll(t: float) -> float:
        p = np.clip(1 / (1 + np.exp(-logit / t)), EPS, 1 - EPS)
        return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())

    return float(min(TEMPERATURES, key=nll))


def _f1(pred: np.ndarray, y: np.ndarray) -> float:
    tp = float((pred & y).sum())
    denom = float(pred.sum() + y.sum())
    return 2 * tp / denom if denom else 1.0


def best_threshold(scores: np.ndarray, y: np.ndarray) -> float:
    """The F1-best threshold; among equals, the one closest to 0.5 (less tuned to dev's accidents)."""
    if y.sum() == 0:
        return 0.5
    y = y.astype(bool)
    return float(max(THRESHOLDS, key=lambda t: (_f1(scores >= t, y), -abs(t - 0.5))))


def recall_threshold(scores: np.ndarray, positive: np.ndarray, target_recall: float) -> float:
    """The highest threshold that still finds `target_recall` of dev's positives: a missed urgent complaint
    is the costliest error, so recall is fixed first and precision follows."""
    positives = np.sort(scores[positive.astype(bool)])
    if len(positives) == 0:
        return 0.5
    k = int(np.floor((1 - target_recall) * len(positives)))
    return float(np.clip(positives[k] - 1e-6, 0.02, 0.95))


def calibrate(config: ClassifierConfig, probs: list[HeadProbs], targets: dict[str, np.ndarray],
              target_urgent_recall: float, target_review_recall: float) -> dict[str, float]:
    """Set temperatures, then thresholds on the calibrated dev probabilities. Returns the temperatures."""
    stack = {k: np.stack([getattr(p, k) for p in probs]) for k in HEAD_NAMES}
    gold_aspects = targets["aspects"] >= 0
    urgent_rows = targets["urgency"] == config.urgency.index("urgent")
    temps = {
        "touchpoints": fit_sigmoid_temperature(stack["touchpoints"], targets["touchpoints"]),
        "aspects": fit_softmax_temperature(stack["aspects"][gold_aspects], targets["aspects"][gold_aspects]),
        "sentiment": fit_softmax_temperature(stack["sentiment"], targets["sentiment"]),
        "urgency": fit_softmax_temperature(stack["urgency"], targets["urgency"]),
        # every comment: a reason's probability is also what pages, so calm comments must calibrate it too
        "urgent_reasons": fit_sigmoid_temperature(stack["urgent_reasons"], targets["urgent_reasons"]),
    }
    assert set(temps) == set(HEAD_NAMES)
    config.temperatures = temps
    scaled_tp = rescale_sigmoid(stack["touchpoints"], temps["touchpoints"])
    scaled_rs = rescale_sigmoid(stack["urgent_reasons"], temps["urgent_reasons"])
    config.touchpoint_thresholds = {t: best_threshold(scaled_tp[:, i], targets["touchpoints"][:, i])
                                    for i, t in enumerate(config.touchpoints)}
    config.reason_thresholds = {r: best_threshold(scaled_rs[urgent_rows, i], targets["urgent_reasons"][urgent_rows, i])
                                for i, r in enumerate(config.reasons)}
    score = scaled_rs.max(axis=1)  # the strongest sentence's strongest reason: what pages
    config.page_threshold = recall_threshold(score, urgent_rows, target_urgent_recall)
    config.review_threshold = min(recall_threshold(score, urgent_rows, target_review_recall), config.page_threshold)
    return temps


def rescale_sigmoid(probs: np.ndarray, t: float) -> np.ndarray:
    logit = np.log(np.clip(probs, EPS, 1 - EPS) / np.clip(1 - probs, EPS, 1.0))
    return 1 / (1 + np.exp(-logit / t))


def rescale_softmax(probs: np.ndarray, t: float) -> np.ndarray:
    z = np.log(np.clip(probs, EPS, 1.0)) / t
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def apply_temperatures(probs: list[HeadProbs], temps: dict[str, float]) -> list[HeadProbs]:
    """The probabilities the classifier would give with `temps` set, without running it again."""
    def rescale(name: str, values: np.ndarray) -> np.ndarray:
        fn = rescale_sigmoid if head(name).activation == "sigmoid" else rescale_softmax
        return fn(values, temps.get(name, 1.0))

    def one(p: HeadProbs) -> HeadProbs:
        sentence = None if p.sentence_reasons is None else rescale("urgent_reasons", p.sentence_reasons)
        return replace(p, **{name: rescale(name, getattr(p, name)) for name in HEAD_NAMES}, sentence_reasons=sentence)

    return [one(p) for p in probs]


def calibrated_dev_scores(config: ClassifierConfig, rows, raw_probs: list[HeadProbs], targets: dict[str, np.ndarray],
                          target_urgent_recall: float, target_review_recall: float):
    """Calibrate `config` on dev's uncalibrated probabilities and score dev as the calibrated model would."""
    from pvoice.training.evaluation import score_probabilities

    temps = calibrate(config, raw_probs, targets, target_urgent_recall, target_review_recall)
    return score_probabilities(rows, apply_temperatures(raw_probs, temps), config)
