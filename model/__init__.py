"""The classifier: encoder, heads, decisions and the one loader.

The torch-backed classes load on first use, so that a command that only reads labels does not pay for
importing torch. Labels and heads themselves live in `pvoice.labels`."""

from importlib import import_module

_LAZY = {
    "BaseClassifier": "pvoice.model.base",
    "Classifier": "pvoice.model.predictor",
    "ClassifierConfig": "pvoice.model.config",
    "Evidence": "pvoice.model.results",
    "HeadProbs": "pvoice.model.decisions",
    "InputError": "pvoice.model.inputs",
    "LinearClassifier": "pvoice.model.linear",
    "ModelFormatError": "pvoice.model.config",
    "MultiTaskModel": "pvoice.model.modeling",
    "Prediction": "pvoice.model.results",
    "load_classifier": "pvoice.model.loading",
    "sentence_spans": "pvoice.model.sentences",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pvoice.model' has no attribute {name!r}")
