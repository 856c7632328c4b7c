"""What every classifier shares: `predict`, written once on top of its `head_probabilities`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

from pvoice.model.config import ClassifierConfig
from pvoice.model.decisions import HeadProbs, decide
from pvoice.model.evidence import explain
from pvoice.model.inputs import check_texts
from pvoice.model.results import Prediction


class BaseClassifier:
    """A classifier gives calibrated probabilities per head (`head_probabilities`); this turns them into
    labels by its config's thresholds, and explains them on request."""

    config: ClassifierConfig
    default_batch_size = 32

    def head_probabilities(self, texts: Sequence[str], batch_size: int = 32) -> list[tuple[HeadProbs, int]]:
        """Calibrated probabilities per text and the number of model windows it took."""
        raise NotImplementedError

    @overload
    def predict(self, texts: str, batch_size: int | None = ..., evidence: bool = ...) -> Prediction: ...
    @overload
    def predict(self, texts: Sequence[str], batch_size: int | None = ..., evidence: bool = ...) -> list[Prediction]: ...

    def predict(self, texts, batch_size: int | None = None, evidence: bool = False):
        """Labels, calibrated probabilities and (with `evidence=True`) the words that drove them.

        A single string gives a single Prediction; a list gives a list in input order. The sentences an
        urgent (or review) decision rests on are always given as its evidence.
        """
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        check_texts(batch)
        size = batch_size or self.default_batch_size
        results = []
        for text, (probs, n_windows) in zip(batch, self.head_probabilities(batch, size)):
            pred = decide(text, probs, self.config)
            pred.windows = n_windows
            results.append(pred)
        if evidence:
            for pred in results:
                pred.evidence = {**explain(self, pred, batch_size=size), **pred.evidence}
        return results[0] if single else results
