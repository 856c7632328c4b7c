from datasets import ClassLabel, Sequence

from pvoice.model.testing import tiny_tokenizer
from pvoice.training.data import label_targets, load_corpus, tokenize_dataset


def test_dataset_dict_has_typed_features(sample_corpus):
    dd = load_corpus([sample_corpus])
    assert set(dd) == {"train", "dev", "test"}
    assert sum(len(d) for d in dd.values()) == 8
    feats = dd["train"].features
    assert isinstance(feats["sentiment"], ClassLabel) and feats["sentiment"].names == ["positive", "neutral", "negative"]
    assert isinstance(feats["touchpoints"], Sequence) and feats["touchpoints"].feature.names[0] == "registration"
    assert feats["urgent_reasons"].feature.names == ["safety", "threat", "privacy", "misconduct", "escalation"]


def test_targets_and_tokenization(sample_corpus):
    dd = load_corpus([sample_corpus])
    ds = next(d for d in dd.values() if len(d))
    targets = label_targets(ds)
    names = ds.features["touchpoints"].feature.names
    for i, row in enumerate(ds):
        assert targets["touchpoints"][i].sum() == len(row["touchpoints"])
        for t, s in zip(row["touchpoints"], row["aspect_sentiments"]):
            assert targets["aspects"][i, t] == s
        assert (targets["aspects"][i] >= 0).sum() == len(row["touchpoints"]) <= len(names)
    tok = tokenize_dataset(ds, tiny_tokenizer(), max_length=16)
    assert all(len(ids) <= 16 and ids[0] == 2 and ids[-1] == 3 for ids in tok["input_ids"])
