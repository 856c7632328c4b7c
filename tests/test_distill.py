"""Distillation: a one-layer student of the tiny two-layer model learns to give the teacher's outputs."""

import numpy as np
import pytest

from pvoice.model.config import ClassifierConfig
from pvoice.model.predictor import Classifier
from pvoice.model.sentences import sentence_spans
from pvoice.training.args import TrainArgs
from pvoice.training.distill import comment_like_texts
from pvoice.training.trainer import train

TEXTS = ["挂号排队太久了。护士态度很好！", "药房拿药等了一个小时，窗口只开一个。", "住院期间跌倒，没人管。", "医生很耐心，谢谢。"]


def _gap(student: Classifier, teacher: Classifier) -> float:
    """Mean absolute difference of the two models' probabilities on the sentiment and urgency heads."""
    a, b = student.head_probabilities(TEXTS), teacher.head_probabilities(TEXTS)
    return float(np.mean([np.abs(x.sentiment - y.sentiment).mean() + np.abs(x.urgency - y.urgency).mean()
                          for (x, _), (y, _) in zip(a, b)]))


# trains a teacher and a student (about 16 s): in the slow run, as the other long training tests are
@pytest.mark.slow
def test_student_moves_toward_the_teacher(tmp_path, small_corpus, tiny_model_dir):
    teacher = Classifier.from_pretrained(tiny_model_dir)

    def student(epochs: int):
        args = TrainArgs(output_dir=tmp_path / f"student{epochs}", teacher=str(tiny_model_dir), num_layers=1,
                         data=[str(small_corpus)], max_length=64, batch_size=16, epochs=epochs, patience=epochs,
                         learning_rate=1e-3, head_learning_rate=1e-3, freeze_layers=0, freeze_embeddings=False,
                         distill_weight=1.0, unlabeled_ratio=0.5, out_of_domain=False)
        return train(args, progress=False).output_dir

    before, after = student(1), student(4)
    config = ClassifierConfig.load(after)
    assert config.base_model == "distilled from tiny-random-0"
    assert config.metrics["train_args"]["teacher"] == str(tiny_model_dir)
    trained = Classifier.from_pretrained(after)
    assert trained.model.encoder.config.num_hidden_layers == 1
    # calibration refits temperatures for the student, so compare raw outputs of the network
    for c in (trained, Classifier.from_pretrained(before), teacher):
        c.config.temperatures = {}
    assert _gap(trained, teacher) < _gap(Classifier.from_pretrained(before), teacher)


def test_comment_like_texts_reuse_the_corpus_sentences_only():
    source = ["挂号很方便。医生讲得很清楚！", "药房排队太久了；窗口态度也差。", "出院后没人随访。"]
    made = comment_like_texts(source, 30, seed=1)
    assert len(made) == 30 and made == comment_like_texts(source, 30, seed=1)
    pieces = {t[s:e].strip("。！；，\n ") for t in source for s, e in sentence_spans(t)}
    for text in made:
        assert any(p and p in text for p in pieces)
