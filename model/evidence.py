"""Evidence by occlusion: drop each jieba word and see how far each decision's probability falls."""

from __future__ import annotations

import logging
import unicodedata
from typing import TYPE_CHECKING

import jieba

from pvoice.model.results import Evidence, Prediction

if TYPE_CHECKING:
    from pvoice.model.decisions import HeadProbs

jieba.setLogLevel(logging.WARNING)
MAX_SPANS = 48
TOP_K = 3


def _is_content(word: str) -> bool:
    return any(not unicodedata.category(ch).startswith(("P", "Z", "S")) for ch in word)


def word_spans(text: str, max_spans: int = MAX_SPANS) -> list[tuple[int, int]]:
    """Character spans of the content words; a long text's words are merged into at most `max_spans` runs
    so that explaining it costs a bounded number of model calls."""
    spans = [(s, e) for w, s, e in jieba.tokenize(text) if _is_content(w)]
    if len(spans) <= max_spans:
        return spans
    per = -(-len(spans) // max_spans)
    return [(spans[i][0], spans[min(i + per, len(spans)) - 1][1]) for i in range(0, len(spans), per)]


def _targets(pred: Prediction, labels: dict[str, list[str]]) -> dict[str, tuple[str, int]]:
    """For each decision to explain: which head and which index its probability sits at."""
    targets = {t: ("touchpoints", labels["touchpoints"].index(t)) for t in pred.touchpoints}
    targets["urgency"] = ("urgency", labels["urgency"].index(pred.urgency))
    return targets


def _prob(probs: "HeadProbs", head: str, index: int) -> float:
    return float(getattr(probs, head)[index])


def explain(classifier, pred: Prediction, *, batch_size: int = 32, top_k: int = TOP_K) -> dict[str, list[Evidence]]:
    """Up to `top_k` spans per decided touchpoint and for the urgency decision, strongest first."""
    spans = word_spans(pred.text)
    if not spans:
        return {}
    variants = [pred.text[:s] + pred.text[e:] for s, e in spans]
    (base, _), *occluded = classifier.head_probabilities([pred.text, *variants], batch_size)
    evidence: dict[str, list[Evidence]] = {}
    for name, (head, index) in _targets(pred, classifier.config.labels).items():
        full = _prob(base, head, index)
        scored = [(round(full - _prob(p, head, index), 6), span) for (p, _), span in zip(occluded, spans)]
        scored = sorted((x for x in scored if x[0] > 0), reverse=True)[:top_k]
        evidence[name] = [Evidence(pred.text[s:e], s, e, w) for w, (s, e) in scored]
    return evidence
