"""The baseline to beat: jieba words + character n-grams, TF-IDF and logistic regression per head.

It answers the same `head_probabilities` / `predict` calls as the transformer, so evaluation,
evidence and serving treat both alike. Saved as JSON + safetensors, never pickled.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import jieba
import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from pvoice.labels import HEAD_NAMES, activate
from pvoice.model.base import BaseClassifier
from pvoice.model.config import ClassifierConfig
from pvoice.model.files import make_private
from pvoice.model.decisions import HeadProbs
from pvoice.model.sentences import sentence_spans

jieba.setLogLevel(logging.WARNING)
VOCAB_FILE, WEIGHTS_FILE = "vocabulary.json", "linear.safetensors"
ABSENT = -1e4  # logit of a class never seen in training


def analyze(text: str) -> list[str]:
    """jieba words plus character 1-3-grams, so that unseen words still share characters."""
    t = text.lower()
    grams = [t[i:i + n] for n in (1, 2, 3) for i in range(len(t) - n + 1) if not t[i:i + n].isspace()]
    return [f"w:{w}" for w in jieba.lcut(t) if w.strip()] + grams


def _fit_binary(X, y: np.ndarray, C: float) -> tuple[np.ndarray, float]:
    if y.min() == y.max():  # one class only: a constant, confident answer
        return np.zeros(X.shape[1]), (10.0 if y[0] else -10.0)
    lr = LogisticRegression(C=C, max_iter=2000, class_weight="balanced").fit(X, y)
    return lr.coef_[0], float(lr.intercept_[0])


def _fit_multiclass(X, y: np.ndarray, n_classes: int, C: float) -> tuple[np.ndarray, np.ndarray]:
    coef, bias = np.zeros((n_classes, X.shape[1])), np.full(n_classes, ABSENT)
    present = np.unique(y)
    if len(present) == 1:
        bias[present[0]] = 0.0
        return coef, bias
    lr = LogisticRegression(C=C, max_iter=2000, class_weight="balanced").fit(X, y)
    if len(present) == 2:  # sklearn gives one row for two classes
        coef[present[1]], bias[present[1]] = lr.coef_[0], lr.intercept_[0]
        bias[present[0]] = 0.0
    else:
        coef[present], bias[present] = lr.coef_, lr.intercept_
    return coef, bias


class LinearClassifier(BaseClassifier):
    default_batch_size = 256

    def __init__(self, vectorizer: TfidfVectorizer, weights: dict[str, np.ndarray], config: ClassifierConfig):
        self.vectorizer = vectorizer
        self.weights = weights
        self.config = config

    @classmethod
    def fit(cls, texts: Sequence[str], targets: dict[str, np.ndarray], config: ClassifierConfig,
            C: float = 4.0) -> "LinearClassifier":
        """`targets`: touchpoints [N,T] 0/1, aspects [N,T] class or -1, sentiment [N], urgency [N], reasons [N,R]."""
        vec = TfidfVectorizer(analyzer=analyze, sublinear_tf=True, min_df=2)
        X = vec.fit_transform(texts)
        n_sent, T = len(config.sentiments), len(config.touchpoints)
        w: dict[str, np.ndarray] = {}
        tp = [_fit_binary(X, targets["touchpoints"][:, t], C) for t in range(T)]
        w["touchpoints.coef"], w["touchpoints.bias"] = np.stack([c for c, _ in tp]), np.array([b for _, b in tp])
        asp_coef, asp_bias = np.zeros((T, n_sent, X.shape[1])), np.zeros((T, n_sent))
        for t in range(T):
            rows = np.flatnonzero(targets["aspects"][:, t] >= 0)
            if len(rows):
                asp_coef[t], asp_bias[t] = _fit_multiclass(X[rows], targets["aspects"][rows, t], n_sent, C)
        w["aspects.coef"], w["aspects.bias"] = asp_coef, asp_bias
        w["sentiment.coef"], w["sentiment.bias"] = _fit_multiclass(X, targets["sentiment"], n_sent, C)
        w["urgency.coef"], w["urgency.bias"] = _fit_multiclass(X, targets["urgency"], len(config.urgency), C)
        # on every comment, as the transformer's sentence head is: a calm comment teaches "no reason" too
        rs = [_fit_binary(X, targets["urgent_reasons"][:, r], C) for r in range(len(config.reasons))]
        w["urgent_reasons.coef"], w["urgent_reasons.bias"] = np.stack([c for c, _ in rs]), np.array([b for _, b in rs])
        return cls(vec, {k: v.astype(np.float32) for k, v in w.items()}, config)

    def _logits(self, X, head: str) -> np.ndarray:
        coef, bias = self.weights[f"{head}.coef"], self.weights[f"{head}.bias"]
        flat = coef.reshape(-1, coef.shape[-1])  # aspects' [T, S, F] as [T*S, F]
        logits = np.asarray(X @ flat.T).reshape(X.shape[0], *bias.shape) + bias
        return logits / self.config.temperature(head)

    def head_probabilities(self, texts: Sequence[str], batch_size: int = 256) -> list[tuple[HeadProbs, int]]:
        out = []
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start:start + batch_size])
            X = self.vectorizer.transform(chunk)
            heads = {name: activate(name, self._logits(X, name)) for name in HEAD_NAMES}
            spans = [sentence_spans(text) for text in chunk]
            sentences = self.vectorizer.transform([t[s:e] for t, sp in zip(chunk, spans) for s, e in sp])
            reasons = activate("urgent_reasons", self._logits(sentences, "urgent_reasons"))
            ends = np.cumsum([len(sp) for sp in spans])
            for i, per_sentence in enumerate(np.split(reasons, ends[:-1])):
                probs = {k: v[i] for k, v in heads.items()}
                probs["urgent_reasons"] = per_sentence.max(axis=0)
                out.append((HeadProbs(**probs, sentence_reasons=per_sentence, sentences=spans[i]), 1))
        return out

    def save_pretrained(self, directory: str | Path, *, card: str | None = None) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        vocab = {term: int(i) for term, i in self.vectorizer.vocabulary_.items()}
        payload = {"vocabulary": vocab, "idf": self.vectorizer.idf_.tolist()}
        (directory / VOCAB_FILE).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        save_file({k: np.ascontiguousarray(v) for k, v in self.weights.items()}, str(directory / WEIGHTS_FILE))
        self.config.save(directory)
        if card is not None:
            (directory / "README.md").write_text(card, encoding="utf-8")
        return make_private(directory)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> "LinearClassifier":
        directory = Path(directory)
        payload = json.loads((directory / VOCAB_FILE).read_text(encoding="utf-8"))
        vec = TfidfVectorizer(analyzer=analyze, sublinear_tf=True, vocabulary=payload["vocabulary"])
        vec.idf_ = np.asarray(payload["idf"])
        return cls(vec, load_file(str(directory / WEIGHTS_FILE)), ClassifierConfig.load(directory))
