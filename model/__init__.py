"""The classifier: encoder, heads and predictor.

The taxonomy is imported eagerly (it is light); the torch-backed classes load on first use, so that a
command that only reads labels does not pay for importing torch."""

from importlib import import_module

from model.taxonomy import Label, Taxonomy, TaxonomyError, load_taxonomy

_LAZY = {
    "Classifier": "model.predictor",
    "InputError": "model.predictor",
    "ClassifierConfig": "model.config",
    "ModelFormatError": "model.config",
    "Evidence": "model.results",
    "Prediction": "model.results",
    "LinearClassifier": "model.linear",
    "MultiTaskModel": "model.modeling",
}

__all__ = ["Label", "Taxonomy", "TaxonomyError", "load_taxonomy", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'model' has no attribute {name!r}")
