"""The labels floor of patient-voice: the taxonomy, the heads and row validation.

Everything that names a label, a head or a labeling rule reads it from here; this package imports
nothing of patient-voice but the settings."""

from pvoice.labels.heads import HEAD_NAMES, HEADS, LABEL_LISTS, SOFTMAX_HEADS, Head, activate, head, sigmoid, softmax
from pvoice.labels.taxonomy import Label, Taxonomy, TaxonomyError, load_taxonomy, packaged_taxonomy_path, parse_taxonomy
from pvoice.labels.validation import (LABEL_FIELDS, MAX_TEXT_CHARS, REQUIRED_FIELDS, SOURCES, validate_labels,
                                      validate_row)

__all__ = [
    "HEADS", "HEAD_NAMES", "LABEL_FIELDS", "LABEL_LISTS", "MAX_TEXT_CHARS", "REQUIRED_FIELDS", "SOFTMAX_HEADS",
    "SOURCES", "Head", "Label", "Taxonomy", "TaxonomyError", "activate", "head", "load_taxonomy",
    "packaged_taxonomy_path", "parse_taxonomy", "sigmoid", "softmax", "validate_labels", "validate_row",
]
