"""The classifier: encoder, heads and predictor."""

from model.taxonomy import Label, Taxonomy, TaxonomyError, load_taxonomy

__all__ = ["Label", "Taxonomy", "TaxonomyError", "load_taxonomy"]
