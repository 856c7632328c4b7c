"""Corpus, fine-tuning and evaluation."""

from pvoice.training.corpus import CorpusError, CorpusRow, RowError, read_corpus
from pvoice.training.data import corpus_features, load_corpus, split_rows, to_dataset
from pvoice.training.real_overlap import real_text_overlaps
from pvoice.training.splits import assign_splits, near_duplicate_pairs, normalize_text

__all__ = [
    "CorpusError", "CorpusRow", "RowError", "assign_splits", "corpus_features", "load_corpus",
    "near_duplicate_pairs", "normalize_text", "read_corpus", "real_text_overlaps", "split_rows", "to_dataset",
]
