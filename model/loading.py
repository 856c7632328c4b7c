"""`load_classifier`: the one place that opens a model directory, whatever its architecture."""

from __future__ import annotations

from pathlib import Path

from pvoice.model.base import BaseClassifier
from pvoice.model.config import ClassifierConfig, ModelFormatError


def load_classifier(directory: str | Path, *, quantize: str | None = None, threads: int | None = None,
                    runtime: str | None = None) -> BaseClassifier:
    """The classifier saved in `directory` (transformer or linear baseline), with torch (or ONNX Runtime)
    limited to `threads`; `runtime` overrides the runtime the model's config names.

    Anything wrong with the directory is a ModelFormatError that says what and how to fix it: a damaged file
    would otherwise surface as a tokenizer's plea for a "repo id" or a JSON parser's column number."""
    import torch
    from safetensors import SafetensorError

    directory = Path(directory)
    if threads:
        torch.set_num_threads(threads)
    try:
        return _load(directory, quantize, threads, runtime)
    except ModelFormatError:
        raise
    except (OSError, ValueError, TypeError, KeyError, RuntimeError, SafetensorError) as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ModelFormatError(f"{directory}: a damaged model ({type(exc).__name__}: {first}) — copy the model "
                               "folder again, or retrain it with `pvoice model ensure`") from exc


def _load(directory: Path, quantize: str | None, threads: int | None, runtime: str | None) -> BaseClassifier:
    from pvoice.model.linear import LinearClassifier
    from pvoice.model.predictor import Classifier

    config = ClassifierConfig.load(directory)
    if config.arch == "linear":
        return LinearClassifier.from_pretrained(directory)
    if config.arch == "transformer":
        return Classifier.from_pretrained(directory, quantize=quantize, runtime=runtime, threads=threads)
    raise ModelFormatError(f"{directory}: unknown architecture {config.arch!r}; valid: transformer, linear")
