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


@pytest.fixture(scope="module")
def ensured(tmp_path_factory, tiny_base, small_corpus):
    """One `ensure` run on the tiny model as `make run` does it (no student), what it said, and its folder."""
    said, tmp_path = [], tmp_path_factory.mktemp("ensure")
    return ensure_default_model(tmp_path / "default", say=said.append, **_tiny(tiny_base, small_corpus)), said


def test_ensure_trains_baseline_and_teacher_and_installs_the_teacher_on_the_runtime_its_gate_allows(ensured):
    ensured, said = ensured
    model_dir = ensured.model_dir
    teacher = model_dir.with_name("default-teacher")
    for role in ("baseline", "teacher"):
        assert (model_dir.with_name(f"default-{role}") / "classifier.json").exists()
    assert not model_dir.with_name("default-student").exists() and not any("student" in line for line in said)
    assert ensured.source == teacher
    installed = ClassifierConfig.load(model_dir)
    assert installed.model_version == ClassifierConfig.load(teacher).model_version
    record = json.loads((model_dir / GATES_FILE).read_text(encoding="utf-8"))
    (int8,) = record["gates"]
    assert int8["reference"] == "default-teacher" and int8["candidate"] == "default-teacher (onnxruntime int8)"
    assert set(int8["checks"]["test"]) == {
        "touchpoint_micro_f1", "aspect_accuracy", "sentiment_macro_f1", "reason_micro_f1", "urgent_recall"}
    assert (teacher / "onnx" / "model.int8.onnx").exists()
    # the runtime in the config is the gates' decision, and every loader follows it
    expected = ("onnxruntime", "int8") if int8["passed"] else ("torch", "fp32")
    assert (installed.runtime, installed.precision) == expected == (ensured.runtime, ensured.precision)
    assert load_classifier(model_dir).runtime.name == expected[0]


def test_ensure_with_student_reuses_the_teacher_and_installs_the_one_the_gates_allow(ensured, tiny_base,
                                                                                    small_corpus):
    model_dir = ensured[0].model_dir
    teacher = model_dir.with_name("default-teacher")
    teacher_version = ClassifierConfig.load(teacher).model_version
    said = []
    again = ensure_default_model(model_dir, say=said.append, student=True, **_tiny(tiny_base, small_corpus))
    assert said[0].startswith("reusing the teacher")
    assert ClassifierConfig.load(teacher).model_version == teacher_version
    student = model_dir.with_name("default-student")
    assert ClassifierConfig.load(student).base_model.startswith("distilled from transformer-")
    record = json.loads((model_dir / GATES_FILE).read_text(encoding="utf-8"))
    student_gate, int8 = record["gates"]
    assert student_gate["reference"] == int8["reference"] == "default-teacher"
    # the default is a copy of the student exactly when the student passed its gates
    chosen = student if student_gate["passed"] else teacher
    assert again.source == chosen
    assert ClassifierConfig.load(model_dir).model_version == ClassifierConfig.load(chosen).model_version
    assert (chosen / "onnx" / "model.int8.onnx").exists()
    assert any("student" in line for line in said)


@pytest.mark.slow  # the student path runs in the test above; this one adds a second student of another model
def test_distill_gates_a_student_of_any_model(ensured, tmp_path, tiny_base, small_corpus):
    teacher = ensured[0].model_dir.with_name("default-teacher")
    student = distill_student(teacher, tmp_path / "other", say=lambda _: None,
                              **_tiny(tiny_base, small_corpus, num_layers=1, epochs=2))
    assert student.gates[0].reference == "default-teacher"
    assert (tmp_path / "other" / GATES_FILE).exists()
