"""`load_classifier`: the one place that opens a model directory, whatever its architecture."""

from __future__ import annotations

from pathlib import Path

from pvoice.model.base import BaseClassifier
from pvoice.model.config import ClassifierConfig, ModelFormatError


def load_classifier(directory: str | Path, *, quantize: str | None = None, threads: int | None = None
                    ) -> BaseClassifier:
    """The classifier saved in `directory` (transformer or linear baseline), with torch limited to `threads`."""
    import torch

    from pvoice.model.linear import LinearClassifier
    from pvoice.model.predictor import Classifier

    if threads:
        torch.set_num_threads(threads)
    config = ClassifierConfig.load(Path(directory))
    if config.arch == "linear":
        return LinearClassifier.from_pretrained(directory)
    if config.arch == "transformer":
        return Classifier.from_pretrained(directory, quantize=quantize)
    raise ModelFormatError(f"{directory}: unknown architecture {config.arch!r}; valid: transformer, linear")
