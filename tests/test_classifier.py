import json

import torch

import numpy as np
import pytest

from pvoice.model.config import CONFIG_NAME, ModelFormatError
from pvoice.model.inputs import InputError
from pvoice.model.predictor import Classifier
from pvoice.model.results import Prediction
from pvoice.labels import load_taxonomy


@pytest.fixture(scope="module")
def clf(tiny_model_dir):
    return Classifier.from_pretrained(tiny_model_dir)


def test_single_in_single_out_list_in_list_out(clf):
    one = clf.predict("挂号排了三个小时")
    assert isinstance(one, Prediction)
    many = clf.predict(["挂号排了三个小时", "护士态度很好"])
    assert [p.text for p in many] == ["挂号排了三个小时", "护士态度很好"]


def test_predictions_follow_the_taxonomy_and_contract(clf):
    tax = load_taxonomy()
    for p in clf.predict(["挂号排了三个小时", "医生很耐心，谢谢", "护士输错了液"]):
        assert p.touchpoints and set(p.touchpoints) <= set(tax.touchpoint_ids)
        assert set(p.aspects) == set(p.touchpoints)
        assert p.sentiment in tax.sentiment_ids and p.urgency in tax.urgency_ids
        assert bool(p.urgent_reasons) == (p.urgency == "urgent")
        assert abs(sum(p.sentiment_probabilities.values()) - 1) < 1e-4
        assert abs(sum(p.urgency_probabilities.values()) - 1) < 1e-4
        assert p.model_version == "tiny-random-0"


def test_padding_in_a_batch_does_not_change_a_comment(clf):
    # mean pooling and the per-touchpoint attention both have to ignore the padding of shorter texts
    short = "护士态度很好"
    alone = clf.predict(short)
    batched = clf.predict([short, "挂号排了三个小时，缴费又排了一个小时，取药窗口只开了一个，医保结算还出错"])[0]
    for name in ("touchpoint_probabilities", "sentiment_probabilities", "urgency_probabilities"):
        a, b = getattr(alone, name), getattr(batched, name)
        assert a.keys() == b.keys()
        assert all(abs(a[k] - b[k]) < 1e-5 for k in a), name
    for tp, probs in alone.aspect_probabilities.items():
        assert all(abs(probs[k] - batched.aspect_probabilities[tp][k]) < 1e-5 for k in probs), tp


def test_save_load_round_trip_gives_identical_probabilities(clf, tmp_path):
    text = "CT报告等了五天还没出来"
    before = clf.predict(text)
    after = Classifier.from_pretrained(clf.save_pretrained(tmp_path / "copy")).predict(text)
    assert after.touchpoint_probabilities == before.touchpoint_probabilities
    assert after.urgency_probabilities == before.urgency_probabilities


def test_a_saved_model_is_readable_by_its_owner_only(clf, tmp_path):
    saved = clf.save_pretrained(tmp_path / "private")
    modes = {p: p.stat().st_mode & 0o777 for p in [saved, *saved.rglob("*")]}
    assert modes and all(mode & 0o077 == 0 for mode in modes.values()), modes


def test_thresholds_and_temperatures_from_config_drive_decisions(clf, tmp_path):
    path = clf.save_pretrained(tmp_path / "m")
    raw = json.loads((path / CONFIG_NAME).read_text())
    raw["page_threshold"] = 0.0  # everything is urgent
    raw["touchpoint_thresholds"] = {t: 0.0 for t in raw["labels"]["touchpoints"]}
    (path / CONFIG_NAME).write_text(json.dumps(raw))
    p = Classifier.from_pretrained(path).predict("随便说一句")
    assert p.urgency == "urgent" and p.sentiment == "negative" and p.urgent_reasons
    assert p.touchpoints == raw["labels"]["touchpoints"]


def test_long_text_is_read_in_windows_not_cut(clf):
    text = "挂号排队" * 100 + "护士输错了液"
    p = clf.predict(text)
    assert p.windowed and p.windows > 1
    windows = clf._windows([text])[0][0]
    covered = sum(len(w.ids) - 2 for w in windows)
    assert covered >= len(clf.tokenizer(text, add_special_tokens=False)["input_ids"])


def test_evidence_points_at_words_of_the_text(clf):
    p = clf.predict("挂号排了三个小时，护士态度很差", evidence=True)
    assert set(p.evidence) == set(p.touchpoints) | {"urgency"}
    for spans in p.evidence.values():
        for e in spans:
            assert p.text[e.start:e.end] == e.text and e.weight > 0


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_bad_input_is_refused_clearly(clf, bad):
    with pytest.raises(InputError, match=r"texts\[0\]"):
        clf.predict([bad])


def test_int8_model_stays_close_to_fp32(tiny_model_dir):
    fp32 = Classifier.from_pretrained(tiny_model_dir).predict("药房拿药排队太久")
    int8 = Classifier.from_pretrained(tiny_model_dir, quantize="int8").predict("药房拿药排队太久")
    a = np.array(list(fp32.touchpoint_probabilities.values()))
    b = np.array(list(int8.touchpoint_probabilities.values()))
    assert np.abs(a - b).max() < 0.05


def test_unreadable_model_directory_says_why(tmp_path, tiny_model_dir, clf):
    with pytest.raises(ModelFormatError, match="classifier.json is missing"):
        Classifier.from_pretrained(tmp_path)
    path = clf.save_pretrained(tmp_path / "old")
    raw = json.loads((path / CONFIG_NAME).read_text())
    raw["format_version"] = 99
    (path / CONFIG_NAME).write_text(json.dumps(raw))
    with pytest.raises(ModelFormatError, match="format version 99"):
        Classifier.from_pretrained(path)


def test_training_from_cached_lower_states_equals_the_full_forward(clf):
    model = clf.model.eval()
    ids = torch.tensor([[2, 10, 11, 12, 3, 0], [2, 20, 21, 22, 23, 3]])
    mask = (ids != 0).long()
    sentences = torch.tensor([[-1, 0, 0, 1, -1, -1], [-1, 0, 0, 0, 1, -1]])
    with torch.no_grad():
        full = model(ids, mask, sentences)
        resumed = model.forward_from(model.lower_states(ids, mask, 1), mask, sentences, start_layer=1)
    for head in full:
        assert torch.allclose(full[head], resumed[head], atol=1e-5), head
