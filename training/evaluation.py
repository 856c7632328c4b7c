"""Metrics of a classifier on labeled rows, the same for the transformer and the linear baseline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from pvoice.model.decisions import HeadProbs, decide
from pvoice.model.results import Prediction
from pvoice.training.corpus import CorpusRow

PRIMARY_METRIC = "score"
# the share of urgent comments in a real inbox at which urgent precision is also reported; the corpus and
# the real-text sets over-sample urgent comments, and precision depends on the base rate
URGENT_BASE_RATE = 0.05


@dataclass
class Evaluation:
    metrics: dict[str, float | int | dict]
    rows: list[CorpusRow]
    predictions: list[Prediction]
    probs: list[HeadProbs]


def _multi_hot(label_lists: list[list[str]], names: list[str]) -> np.ndarray:
    out = np.zeros((len(label_lists), len(names)), dtype=int)
    for i, labels in enumerate(label_lists):
        for label in labels:
            out[i, names.index(label)] = 1
    return out


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def precision_at_base_rate(is_urgent: np.ndarray, paged: np.ndarray, rate: float = URGENT_BASE_RATE) -> float:
    """Urgent precision had the urgent share been `rate`: recall and false-positive rate re-weighted."""
    tpr = paged[is_urgent].mean() if is_urgent.any() else 0.0
    fpr = paged[~is_urgent].mean() if (~is_urgent).any() else 0.0
    denom = rate * tpr + (1 - rate) * fpr
    return float(rate * tpr / denom) if denom else 0.0


def _review_metrics(is_u: np.ndarray, pred_u: np.ndarray, preds: list[Prediction]) -> dict:
    review = np.array([p.needs_review for p in preds])
    return {
        "review_band": int(review.sum()),
        "review_band_share": float(review.mean()) if len(review) else 0.0,
        "review_band_urgent": int((review & is_u).sum()),
        # an urgent comment either pages or at least reaches a person's review queue
        "urgent_recall_with_review": float((pred_u | review)[is_u].mean()) if is_u.any() else 0.0,
        "urgent_precision_at_base_rate": precision_at_base_rate(is_u, pred_u),
    }


def compute_metrics(rows: list[CorpusRow], preds: list[Prediction], probs: list[HeadProbs], labels: dict
                    ) -> dict:
    tps, sents, reasons = labels["touchpoints"], labels["sentiments"], labels["urgent_reasons"]
    y_tp, p_tp = _multi_hot([r.touchpoints for r in rows], tps), _multi_hot([p.touchpoints for p in preds], tps)
    y_rs = _multi_hot([r.urgent_reasons for r in rows], reasons)
    p_rs = _multi_hot([p.urgent_reasons for p in preds], reasons)
    # aspect sentiment of each gold touchpoint, read from the aspect head (aspect-category sentiment)
    gold_asp = [(i, tps.index(t), sents.index(s)) for i, r in enumerate(rows) for t, s in r.aspects.items()]
    asp_pred = [int(np.argmax(probs[i].aspects[t])) for i, t, _ in gold_asp]
    asp_gold = [s for _, _, s in gold_asp]
    # end to end: a gold touchpoint the model missed counts as a wrong aspect
    e2e = [preds[i].aspects.get(tps[t]) == sents[s] for i, t, s in gold_asp]
    y_s, p_s = [r.sentiment for r in rows], [p.sentiment for p in preds]
    y_u, p_u = [r.urgency for r in rows], [p.urgency for p in preds]
    is_u, pred_u = np.array([u == "urgent" for u in y_u]), np.array([u == "urgent" for u in p_u])
    sent_conf = np.array([p.sentiment_probabilities[p.sentiment] for p in preds])
    urg_conf = np.array([p.urgency_probabilities[p.urgency] for p in preds]) if preds else np.zeros(0)
    m = {
        "n": len(rows),
        "touchpoint_micro_f1": f1_score(y_tp, p_tp, average="micro", zero_division=0),
        "touchpoint_macro_f1": f1_score(y_tp, p_tp, average="macro", zero_division=0),
        "touchpoint_f1_per_label": dict(zip(tps, map(float, f1_score(y_tp, p_tp, average=None, zero_division=0)))),
        "aspect_accuracy": accuracy_score(asp_gold, asp_pred) if gold_asp else 0.0,
        "aspect_macro_f1": f1_score(asp_gold, asp_pred, average="macro", zero_division=0) if gold_asp else 0.0,
        "aspect_accuracy_end_to_end": float(np.mean(e2e)) if e2e else 0.0,
        "sentiment_accuracy": accuracy_score(y_s, p_s),
        "sentiment_macro_f1": f1_score(y_s, p_s, average="macro", labels=sents, zero_division=0),
        "urgency_accuracy": accuracy_score(y_u, p_u),
        "urgency_macro_f1": f1_score(y_u, p_u, average="macro", labels=labels["urgency"], zero_division=0),
        "urgent_precision": precision_score(is_u, pred_u, zero_division=0),
        "urgent_recall": recall_score(is_u, pred_u, zero_division=0),
        "reason_micro_f1": f1_score(y_rs, p_rs, average="micro", zero_division=0),
        "sentiment_ece": expected_calibration_error(sent_conf, np.array(y_s) == np.array(p_s)),
        "urgency_ece": expected_calibration_error(urg_conf, np.array(y_u) == np.array(p_u)),
        **_review_metrics(is_u, pred_u, preds),
    }
    m = {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in m.items()}
    m[PRIMARY_METRIC] = float(np.mean([m["touchpoint_micro_f1"], m["aspect_accuracy"], m["sentiment_macro_f1"],
                                       m["urgency_macro_f1"], m["urgent_recall"]]))
    return m


def score_probabilities(rows: list[CorpusRow], probs: list[HeadProbs], config) -> Evaluation:
    """Decisions and metrics from already computed probabilities, under `config`'s thresholds."""
    preds = [decide(r.text, p, config) for r, p in zip(rows, probs)]
    return Evaluation(compute_metrics(rows, preds, probs, config.labels), rows, preds, probs)


def evaluate(classifier, rows: list[CorpusRow], batch_size: int = 32) -> Evaluation:
    """Predict every row once and score all heads; `classifier` is any model with `head_probabilities`."""
    probs = [p for p, _ in classifier.head_probabilities([r.text for r in rows], batch_size)]
    return score_probabilities(rows, probs, classifier.config)
