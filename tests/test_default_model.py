"""`pvoice model ensure` and `pvoice model distill` end to end on the tiny model: every step runs, the gates
decide the runtime, and what they decided is written down."""

import json

import pytest

pytest.importorskip("onnxruntime")

from pvoice.model.config import ClassifierConfig  # noqa: E402
from pvoice.model.loading import load_classifier  # noqa: E402
from pvoice.training.default_model import GATES_FILE, distill_student, ensure_default_model  # noqa: E402


def _tiny(tiny_base, small_corpus, **kw) -> dict:
    return {"base_model": str(tiny_base), "data": [str(small_corpus)], "max_length": 64, "batch_size": 16,
            "epochs": 1, "freeze_layers": 0, "freeze_embeddings": False, "out_of_domain": False, **kw}


def test_ensure_then_distill(tmp_path, tiny_base, small_corpus):
    said = []
    model_dir = tmp_path / "default"
    ensured = ensure_default_model(model_dir, say=said.append, **_tiny(tiny_base, small_corpus))
    assert (tmp_path / "default-baseline" / "classifier.json").exists()
    assert (model_dir / "onnx" / "model.int8.onnx").exists()
    record = json.loads((model_dir / GATES_FILE).read_text(encoding="utf-8"))
    int8 = record["gates"][-1]
    assert set(int8["checks"]) >= {"test"} and int8["reference"] == "default"
    # the runtime in the config is the gates' decision, and every loader follows it
    config = ClassifierConfig.load(model_dir)
    expected = ("onnxruntime", "int8") if int8["passed"] else ("torch", "fp32")
    assert (config.runtime, config.precision) == expected == (ensured.runtime, ensured.precision)
    assert load_classifier(model_dir).runtime.name == expected[0]

    student = distill_student(model_dir, tmp_path / "student", say=said.append,
                              **_tiny(tiny_base, small_corpus, num_layers=1, epochs=2))
    gate = student.gates[0]
    assert gate.reference == "default" and set(gate.checks["test"]) == {
        "touchpoint_micro_f1", "aspect_accuracy", "sentiment_macro_f1", "reason_micro_f1", "urgent_recall"}
    assert ClassifierConfig.load(tmp_path / "student").base_model.startswith("distilled from transformer-")
    assert any("student" in line for line in said)
