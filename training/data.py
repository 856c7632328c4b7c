"""The corpus as a `datasets.DatasetDict` with typed features built from the taxonomy."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

from model.taxonomy import Taxonomy, load_taxonomy
from pvoice.settings import get_settings
from training.corpus import SOURCES, CorpusRow, read_corpus
from training.splits import SPLITS, assign_splits


def corpus_features(tax: Taxonomy) -> Features:
    sentiment = ClassLabel(names=tax.sentiment_ids)
    return Features({
        "id": Value("string"),
        "text": Value("string"),
        "touchpoints": Sequence(ClassLabel(names=tax.touchpoint_ids)),
        # aligned with `touchpoints`: the sentiment of each tagged touchpoint
        "aspect_sentiments": Sequence(sentiment),
        "sentiment": sentiment,
        "urgency": ClassLabel(names=tax.urgency_ids),
        "urgent_reasons": Sequence(ClassLabel(names=tax.reason_ids)),
        "channel": ClassLabel(names=tax.channel_ids),
        "source": ClassLabel(names=list(SOURCES)),
    })


def to_record(row: CorpusRow, tax: Taxonomy) -> dict:
    return {
        "id": row.id,
        "text": row.text,
        "touchpoints": row.touchpoints,
        "aspect_sentiments": [row.aspects[t] for t in row.touchpoints],
        "sentiment": row.sentiment,
        "urgency": row.urgency,
        "urgent_reasons": row.urgent_reasons,
        "channel": row.channel or tax.channel_ids[0],
        "source": row.source,
    }


def split_rows(rows: list[CorpusRow]) -> dict[str, list[CorpusRow]]:
    """Rows per split; augmented rows follow the rows they were derived from."""
    index = {r.id: i for i, r in enumerate(rows)}
    links = [(i, index[p]) for i, r in enumerate(rows) for p in r.derived_from if p in index]
    names = assign_splits([r.text for r in rows], links)
    out: dict[str, list[CorpusRow]] = {s: [] for s in SPLITS}
    for row, name in zip(rows, names):
        out[name].append(row)
    return out


def to_dataset(rows: list[CorpusRow], tax: Taxonomy | None = None) -> Dataset:
    tax = tax or load_taxonomy()
    features = corpus_features(tax)
    records = [to_record(r, tax) for r in rows]
    return Dataset.from_list(records, features=features) if records else Dataset.from_dict(
        {k: [] for k in features}, features=features)


def load_corpus(paths: Iterable[str | Path] | None = None, tax: Taxonomy | None = None) -> DatasetDict:
    """Read, validate and split the corpus (default: the settings' `corpus_dir`)."""
    tax = tax or load_taxonomy()
    rows = read_corpus(paths or [get_settings().corpus_dir], tax)
    return DatasetDict({name: to_dataset(part, tax) for name, part in split_rows(rows).items()})
