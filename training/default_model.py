"""`pvoice model ensure` and `pvoice model distill`: the default model from nothing, and its faster student.

`ensure` trains the linear baseline and the 12-layer model (the teacher, `<default>-teacher`) and installs a copy
as the default model, exported to ONNX with an int8 graph that it runs on only if that graph passes the gates
(`pvoice.training.gates`) against the teacher on the test split and on real text. With `student`, it first
distils a smaller student (`<default>-student`) and installs that instead if the student passes its gates; a
student that fails stays a folder of its own. `make run` leaves the student out: on 2 cores the student's
labelling and one epoch cost about 15 minutes and have never passed the gates, and without them `make run`
keeps within its 35 minutes. `distill` trains a student of any model. What was decided and why is written to
`gates.json` in the model's folder."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pvoice.training.args import TrainArgs
from pvoice.training.gates import GateResult, check_gates, evaluate_sets, gate_sets

# the teacher trains a fixed number of epochs, not to a time budget, so that one commit gives one model on any
# load (a budget gave 6 epochs on idle cores and 3 to 5 on busy ones, and real_dev figures that moved by up to 0.1);
# on idle 2 cores its 6 epochs keep `make run` from a clean clone within 35 minutes (2026-12-07, a 16,032-row
# corpus: `make model` 28 min 13 s, the teacher step 26.5 of them, the install 1 min 7 s)
TEACHER_EPOCHS = 6
# the student (`ensure --student`) keeps a budget: it is not the default, and its pace is the teacher's labelling
STUDENT_MINUTES = 7.0
STUDENT_EPOCHS = 6  # more than fit: the budget ends it, and the learning rate decays to zero where it does
# fewer unlabeled texts than `pvoice train`'s default: the teacher labels every one of them inside make run
STUDENT = {"num_layers": 6, "freeze_layers": 2, "head_learning_rate": 3e-4, "unlabeled_ratio": 0.3}
GATES_FILE = "gates.json"


@dataclass
class EnsureResult:
    model_dir: Path
    runtime: str
    precision: str
    gates: list[GateResult] = field(default_factory=list)
    # the folder the default model was copied from (the teacher or the student); None when it is `model_dir`
    source: Path | None = None

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)


def _metrics(model_dir: Path) -> dict[str, dict]:
    """The test and real-text metrics that training recorded (the same rows the gates score)."""
    from pvoice.model.config import ClassifierConfig

    metrics = ClassifierConfig.load(model_dir).metrics
    return {"test": metrics["test"], **metrics.get("real", {})}


def train_teacher(teacher: Path, baseline: Path, say, **overrides) -> None:
    from pvoice.training.trainer import train

    say(f"training the linear baseline into {baseline} …")
    train(TrainArgs(**{"arch": "linear", "output_dir": baseline, "out_of_domain": False, **overrides}))
    say(f"training the default model (12 layers) into {teacher} ({TEACHER_EPOCHS} epochs, about 26 minutes on 2 "
        "idle cores) …")
    result = train(TrainArgs(**{"output_dir": teacher, "compare": [str(baseline)], "epochs": TEACHER_EPOCHS,
                                **overrides}))
    say(f"trained: {result.output_dir} ({result.minutes:.1f} min)")


def train_student(student: Path, teacher: Path, say, **overrides) -> GateResult:
    from pvoice.training.trainer import train

    say(f"distilling {teacher} into a {STUDENT['num_layers']}-layer student in {student} "
        f"(about {STUDENT_MINUTES:.0f} minutes of training) …")
    result = train(TrainArgs(**{"output_dir": student, "teacher": str(teacher), "epochs": STUDENT_EPOCHS,
                                "max_minutes": STUDENT_MINUTES, **STUDENT, **overrides}))
    say(f"student trained: {result.output_dir} ({result.minutes:.1f} min)")
    return check_gates(_metrics(teacher), _metrics(student), reference_name=teacher.name,
                       candidate_name=f"{student.name} (torch fp32)")


def quantize_default(model_dir: Path, teacher: Path, say, **overrides) -> tuple[GateResult, str]:
    """Export the model to ONNX with an int8 graph; int8 becomes its runtime only if it passes the gates."""
    from pvoice.model.loading import load_classifier
    from pvoice.model.onnx_export import export_model_dir
    from pvoice.model.runtime import onnx_runtime_available
    from pvoice.settings import get_settings

    if not onnx_runtime_available():
        say("onnxruntime is not installed: the model stays on torch fp32")
        return GateResult(f"{model_dir.name} (onnxruntime int8)", teacher.name), "fp32"
    say("exporting to ONNX and quantizing the encoder to int8 …")
    export_model_dir(model_dir, precision="int8", make_default=False)
    settings = get_settings()
    sets = gate_sets(overrides.get("data") or [settings.corpus_dir],
                     overrides.get("real_eval", [p for p in settings.real_eval_paths if p.is_file()]))
    int8 = evaluate_sets(load_classifier(model_dir, runtime="onnxruntime", quantize="int8"), sets)
    gate = check_gates(_metrics(teacher), int8, reference_name=teacher.name,
                       candidate_name=f"{model_dir.name} (onnxruntime int8)")
    precision = "int8" if gate.passed else "fp32"
    _set_runtime(model_dir, "onnxruntime" if gate.passed else "torch", precision)
    return gate, precision


def _set_runtime(model_dir: Path, runtime: str, precision: str) -> None:
    from pvoice.model.config import ClassifierConfig

    config = ClassifierConfig.load(model_dir)
    config.runtime, config.precision = runtime, precision
    config.save(model_dir)


def _finish(model_dir: Path, reference: Path, gates: list[GateResult], say, **overrides) -> EnsureResult:
    """Quantize, gated against `reference` (the teacher, or the model's own fp32), and record the gates."""
    int8, precision = quantize_default(model_dir, reference, say, **overrides)
    if int8.checks and not int8.passed:
        say("int8 fails its gates (" + "; ".join(int8.failures()) + "): the model runs on torch fp32")
    result = EnsureResult(model_dir, "onnxruntime" if precision == "int8" else "torch", precision, [*gates, int8])
    (model_dir / GATES_FILE).write_text(json.dumps(
        {"runtime": result.runtime, "precision": precision, "gates": [g.to_dict() for g in result.gates]},
        ensure_ascii=False, indent=2), encoding="utf-8")
    return result


def sibling(model_dir: Path, role: str) -> Path:
    """Where `ensure` keeps the default model's teacher, student and baseline: next to it."""
    return model_dir.with_name(f"{model_dir.name}-{role}")


def _install(chosen: Path, model_dir: Path) -> None:
    """Copy `chosen` into `model_dir` whole, so that a reader never finds half a model there."""
    staging = model_dir.with_name(model_dir.name + ".installing")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(chosen, staging)
    if model_dir.exists():
        shutil.rmtree(model_dir)
    os.replace(staging, model_dir)


def ensure_default_model(model_dir: Path, say=print, reuse_teacher: bool = True, student: bool = False,
                         **overrides) -> EnsureResult:
    """The teacher next to `model_dir` and a copy of it in `model_dir`, on int8 if that graph passes its gates.
    With `student`, a student next to it too, and the copy is of the student if it passes its gates. A teacher
    trained by an earlier, broken off run is reused when `reuse_teacher`. `overrides` go to every TrainArgs
    (tests train the tiny model)."""
    from pvoice.model.config import CONFIG_NAME

    teacher = sibling(model_dir, "teacher")
    if reuse_teacher and (teacher / CONFIG_NAME).exists():
        say(f"reusing the teacher in {teacher}")
    else:
        train_teacher(teacher, sibling(model_dir, "baseline"), say, **overrides)
    chosen, gates = teacher, []
    if student:
        chosen, gate = _student_or_teacher(sibling(model_dir, "student"), teacher, say, **overrides)
        gates.append(gate)
    finished = _finish(chosen, teacher, gates, say, **overrides)
    _install(chosen, model_dir)
    return EnsureResult(model_dir, finished.runtime, finished.precision, finished.gates, chosen)


def _student_or_teacher(student: Path, teacher: Path, say, **overrides) -> tuple[Path, GateResult]:
    gate = train_student(student, teacher, say, **overrides)
    say(f"the student passes its gates: {student} becomes the default" if gate.passed else
        "the student fails its gates against the teacher (" + "; ".join(gate.failures()) +
        f"): the teacher {teacher} becomes the default")
    return (student if gate.passed else teacher), gate


def distill_student(teacher: Path, student: Path, say=print, **overrides) -> EnsureResult:
    """A student of `teacher` in `student`; `passed` says whether it may replace the teacher."""
    gate = train_student(student, teacher, say, **overrides)
    if not gate.passed:
        say("the student fails its gates against the teacher (" + "; ".join(gate.failures()) + ")")
    return _finish(student, teacher, [gate], say, **overrides)
