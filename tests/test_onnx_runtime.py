"""The ONNX path gives the torch path's probabilities on the tiny model, and a model saved for one runtime
loads in the other."""

import json
import logging
import shutil

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from pvoice.model.config import CONFIG_NAME  # noqa: E402
from pvoice.model.onnx_export import export_model_dir  # noqa: E402
from pvoice.model.predictor import Classifier  # noqa: E402
from pvoice.model.windows import token_batches  # noqa: E402

TEXTS = [
    "挂号排队太久了。护士态度很好！",
    "药房拿药",
    "医生很耐心，检查报告出得也快，谢谢。收费窗口的人态度差，发票开错了两次。" * 6,  # several windows
    "住院期间跌倒，没人管",
]


@pytest.fixture(scope="module")
def onnx_model_dir(tiny_model_dir, tmp_path_factory):
    directory = tmp_path_factory.mktemp("onnx") / "tiny"
    shutil.copytree(tiny_model_dir, directory)
    export_model_dir(directory, precision="int8")
    return directory


def _probs(classifier):
    out = []
    for probs, windows in classifier.head_probabilities(TEXTS, batch_size=3):
        out.append((np.concatenate([np.ravel(probs.touchpoints), np.ravel(probs.aspects), probs.sentiment,
                                    probs.urgency, probs.urgent_reasons, np.ravel(probs.sentence_reasons)]), windows))
    return out


def test_onnx_fp32_matches_torch(onnx_model_dir):
    torch_run = _probs(Classifier.from_pretrained(onnx_model_dir, runtime="torch"))
    # the saved default is int8; asking for onnxruntime with no precision takes the saved one
    assert Classifier.from_pretrained(onnx_model_dir).runtime.precision == "int8"
    fp32 = Classifier.from_pretrained(onnx_model_dir, runtime="onnxruntime", quantize="fp32")
    assert (fp32.runtime.name, fp32.runtime.precision) == ("onnxruntime", "fp32")
    onnx_run = _probs(fp32)
    assert [w for _, w in torch_run] == [w for _, w in onnx_run] and torch_run[2][1] > 1
    for (a, _), (b, _) in zip(torch_run, onnx_run):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_int8_stays_close_to_torch(onnx_model_dir):
    torch_clf = Classifier.from_pretrained(onnx_model_dir, runtime="torch")
    int8 = Classifier.from_pretrained(onnx_model_dir)
    assert (int8.runtime.name, int8.runtime.precision, int8.model) == ("onnxruntime", "int8", None)
    for (a, _), (b, _) in zip(_probs(torch_clf), _probs(int8)):
        assert np.abs(a - b).max() < 0.05
    preds = int8.predict(TEXTS)
    assert len(preds) == len(TEXTS) and all(p.urgency in int8.config.urgency for p in preds)


def test_saved_for_onnx_loads_on_torch_and_back(onnx_model_dir, tiny_model_dir):
    config = json.loads((onnx_model_dir / CONFIG_NAME).read_text(encoding="utf-8"))
    assert (config["runtime"], config["precision"]) == ("onnxruntime", "int8")
    on_torch = Classifier.from_pretrained(onnx_model_dir, runtime="torch")
    assert on_torch.runtime.name == "torch" and on_torch.model is not None
    plain = Classifier.from_pretrained(tiny_model_dir)  # saved for torch, never exported
    assert [p.urgent_score for p in on_torch.predict(TEXTS)] == [p.urgent_score for p in plain.predict(TEXTS)]


def test_missing_graph_or_runtime_falls_back_to_torch(onnx_model_dir, tmp_path, monkeypatch, caplog):
    bare = tmp_path / "bare"
    shutil.copytree(onnx_model_dir, bare, ignore=shutil.ignore_patterns("onnx"))
    with caplog.at_level(logging.WARNING):
        clf = Classifier.from_pretrained(bare)
    assert (clf.runtime.name, clf.runtime.precision) == ("torch", "fp32")
    assert "no int8 ONNX graph" in caplog.text
    monkeypatch.setattr("pvoice.model.runtime.onnx_runtime_available", lambda: False)
    assert Classifier.from_pretrained(onnx_model_dir).runtime.name == "torch"


def test_unknown_runtime_is_refused(onnx_model_dir):
    with pytest.raises(ValueError, match="unknown runtime"):
        Classifier.from_pretrained(onnx_model_dir, runtime="tensorrt")


def test_token_batches_respect_count_and_budget():
    lengths = [3, 4, 4, 10, 10, 40]
    batches = list(token_batches(lengths, list(range(6)), max_count=4, max_tokens=24))
    assert batches == [[0, 1, 2], [3, 4], [5]]  # 4×4 fits, a 4th row of 10 would be 40; 40 alone exceeds but runs
    assert list(token_batches([5] * 10, list(range(10)), max_count=4, max_tokens=10_000)) == [
        [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
