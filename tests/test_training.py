import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from pvoice.model.config import ClassifierConfig
from pvoice.model.predictor import HEADS_FILE, Classifier
from pvoice.cli import app
from pvoice.training.args import TrainArgs
from pvoice.training.trainer import train

runner = CliRunner()
EVAL_KEYS = {"touchpoint_micro_f1", "touchpoint_macro_f1", "touchpoint_f1_per_label", "aspect_accuracy",
             "aspect_macro_f1", "sentiment_accuracy", "sentiment_macro_f1", "urgency_macro_f1", "urgent_precision",
             "urgent_recall", "reason_micro_f1", "n"}


def _args(tmp_path, small_corpus, tiny_base, **kw) -> TrainArgs:
    kw = {"freeze_layers": 0, "freeze_embeddings": False, **kw}
    return TrainArgs(output_dir=tmp_path / "model", base_model=str(tiny_base), data=[str(small_corpus)],
                     max_length=64, batch_size=16, learning_rate=1e-3, head_learning_rate=3e-3,
                     out_of_domain=False, **kw)


# 1: the top layer trains on cached lower states; 0 (the whole encoder trains) is the slower path, in the slow run
@pytest.mark.parametrize("freeze_layers", [pytest.param(0, marks=pytest.mark.slow), 1])
def test_fine_tuning_lowers_the_loss_and_saves_a_self_describing_model(tmp_path, small_corpus, tiny_base,
                                                                       freeze_layers):
    result = train(_args(tmp_path, small_corpus, tiny_base, epochs=3, patience=3, freeze_layers=freeze_layers),
                   progress=False)
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    config = ClassifierConfig.load(result.output_dir)
    assert EVAL_KEYS <= set(config.metrics["test"])
    assert set(config.touchpoint_thresholds) == set(config.touchpoints)
    assert set(config.temperatures) == {"touchpoints", "aspects", "sentiment", "urgency", "urgent_reasons"}
    assert config.versions["torch"] and config.model_version.startswith("transformer-")
    assert "## Evaluation" in (result.output_dir / "README.md").read_text(encoding="utf-8")
    assert Classifier.from_pretrained(result.output_dir).predict("挂号排了三个小时").touchpoints


def test_training_resumes_from_its_checkpoint(tmp_path, small_corpus, tiny_base):
    first = train(_args(tmp_path, small_corpus, tiny_base, epochs=1), progress=False)
    assert first.epochs_run == 1
    resumed = train(_args(tmp_path, small_corpus, tiny_base, epochs=2, resume=True), progress=False)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert resumed.history[0] == first.history[0]


def test_two_runs_of_one_recipe_train_the_same_model(tmp_path, small_corpus, tiny_base):
    """Without a time budget the epochs, and so the model, do not depend on how busy the machine is."""
    runs = [train(_args(tmp_path / name, small_corpus, tiny_base, epochs=2, patience=2), progress=False)
            for name in ("a", "b")]
    scores = [[{k: v for k, v in h.items() if k != "minutes"} for h in r.history] for r in runs]
    assert scores[0] == scores[1] and len(scores[0]) == 2
    heads = [load_file(r.output_dir / HEADS_FILE) for r in runs]
    assert all(torch.equal(heads[0][k], heads[1][k]) for k in heads[0])


def test_linear_baseline_trains_and_evaluates_from_the_cli(tmp_path, small_corpus, tiny_model_dir):
    out = tmp_path / "linear"
    result = runner.invoke(app, ["train", "--arch", "linear", "--output_dir", str(out), "--data", str(small_corpus)])
    assert result.exit_code == 0, result.output
    assert "test: touchpoint micro-F1" in result.output
    metrics = tmp_path / "m.json"
    report = tmp_path / "report"
    result = runner.invoke(app, ["evaluate", "--model", str(out), "--data", str(small_corpus), "--json", str(metrics),
                                 "--report", str(report), "--compare", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    payload = json.loads(metrics.read_text())
    assert EVAL_KEYS <= set(payload["model"])
    assert "targets:" in result.output
    assert {"report.md", "confusion_urgency.png", "reliability_sentiment.png"} <= {p.name for p in report.iterdir()}


def test_training_arguments_are_validated(tmp_path):
    with pytest.raises(ValueError, match="arch must be one of"):
        TrainArgs(arch="svm")
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        TrainArgs(epochs=0)
    config = tmp_path / "train.yaml"
    config.write_text("arch: linear\nbatch_size: 8\nnot_a_flag: 1\n")
    result = runner.invoke(app, ["train", str(config)])
    assert result.exit_code != 0 and "not_a_flag" in result.output
