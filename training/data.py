"""The corpus as a `datasets.DatasetDict` with typed features built from the taxonomy."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

from pvoice.labels import Taxonomy, load_taxonomy
from pvoice.model.sentences import encode_with_sentences
from pvoice.model.windows import head_and_tail
from pvoice.settings import get_settings
from pvoice.training.corpus import SOURCES, CorpusRow, read_corpus
from pvoice.training.splits import SPLITS, assign_splits


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
    """Rows per split; augmented rows follow the rows they were derived from, and the two sides of a minimal
    pair stay together (a model must not see one side in training and be tested on the other)."""
    index = {r.id: i for i, r in enumerate(rows)}
    links = [(i, index[p]) for i, r in enumerate(rows) for p in r.derived_from if p in index]
    first_of_pair: dict[str, int] = {}
    for i, r in enumerate(rows):
        if r.pair:
            links.append((i, first_of_pair.setdefault(r.pair, i)))
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


def label_targets(ds: Dataset) -> dict[str, np.ndarray]:
    """Dense targets per head: touchpoints/urgent_reasons multi-hot, aspects class per touchpoint or -1."""
    n_tp = ds.features["touchpoints"].feature.num_classes
    n_rs = ds.features["urgent_reasons"].feature.num_classes
    n = len(ds)
    tps, asp = np.zeros((n, n_tp), np.float32), np.full((n, n_tp), -1, np.int64)
    rs = np.zeros((n, n_rs), np.float32)
    for i, (t_ids, a_ids, r_ids) in enumerate(zip(ds["touchpoints"], ds["aspect_sentiments"], ds["urgent_reasons"])):
        tps[i, t_ids] = 1.0
        asp[i, t_ids] = a_ids
        rs[i, r_ids] = 1.0
    return {"touchpoints": tps, "aspects": asp, "sentiment": np.asarray(ds["sentiment"], np.int64),
            "urgency": np.asarray(ds["urgency"], np.int64), "urgent_reasons": rs}


def tokenize_dataset(ds: Dataset, tokenizer, max_length: int) -> Dataset:
    """Adds `input_ids` (special tokens included, long texts cut to head + tail) and each token's sentence
    index `sentence_ids` (-1 for special tokens) with `.map`."""
    prefix = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    suffix = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id

    def encode(batch):
        ids, sids, _ = encode_with_sentences(tokenizer, batch["text"])
        return {"input_ids": [[prefix, *head_and_tail(x, max_length - 2), suffix] for x in ids],
                "sentence_ids": [[-1, *head_and_tail(s, max_length - 2), -1] for s in sids]}

    return ds.map(encode, batched=True, desc="tokenizing")


def collate(ids: list[list[int]], sentence_ids: list[list[int]], targets: dict[str, np.ndarray],
            index: list[int], pad: int) -> dict:
    """Rows `index` padded into one batch of tensors, with their targets (none for unlabeled texts)."""
    import torch  # here: the corpus commands that read this module have no use for torch

    width = max(len(ids[i]) for i in index)
    input_ids = torch.full((len(index), width), pad, dtype=torch.long)
    mask = torch.zeros_like(input_ids)
    sentences = torch.full_like(input_ids, -1)
    for row, i in enumerate(index):
        input_ids[row, :len(ids[i])] = torch.tensor(ids[i])
        mask[row, :len(ids[i])] = 1
        sentences[row, :len(ids[i])] = torch.tensor(sentence_ids[i])
    batch = {k: torch.from_numpy(v[index]) for k, v in targets.items()}
    return {"input_ids": input_ids, "attention_mask": mask, "sentence_ids": sentences, **batch}
