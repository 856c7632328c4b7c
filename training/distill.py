"""Distillation: a smaller student learns the teacher's soft outputs on every head.

The teacher's logits carry what a hard label cannot (how sure it is, which second touchpoint it half sees,
which sentence nearly pages), so a student that fits them learns more per step than from labels alone. Its
inputs are the training split plus comment-like text made from the training split only (sentences of rows
recombined and dropped), which the teacher labels and no person has: dev and test stay unseen."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from pvoice.model.sentences import sentence_spans
from pvoice.training.data import collate
from pvoice.training.loss import HEAD_WEIGHTS

SOFTMAX_PARTS = ("aspects", "sentiment", "urgency")
ABSENT = -1e3  # teacher sentence logits at or below this mark padding, not a sentence
JOINS = ("。", "，", "；另外，", "。还有，", "\n")


def comment_like_texts(texts: Sequence[str], n: int, seed: int) -> list[str]:
    """`n` unlabeled texts recombined from `texts`: two comments' sentences interleaved, a comment with a
    sentence left out, or a few sentences of a long one; every text is made of the corpus's own words."""
    rng = random.Random(seed)
    sentences = [[t[s:e] for s, e in sentence_spans(t)] for t in texts]
    out: list[str] = []
    while len(out) < n:
        a, b = rng.choice(sentences), rng.choice(sentences)
        kind = rng.random()
        if kind < 0.4:
            picked = [x for pair in zip(a, b) for x in pair] + a[len(b):] + b[len(a):]
        elif kind < 0.7 and len(a) > 1:
            drop = rng.randrange(len(a))
            picked = [x for i, x in enumerate(a) if i != drop]
        else:
            start = rng.randrange(len(a))
            picked = a[start:start + rng.randint(1, 3)] + b[:1]
        text = rng.choice(JOINS).join(s.strip() for s in picked if s.strip())
        if len(text) >= 4:
            out.append(text)
    return out


@torch.no_grad()
def teacher_logits(model, ids: list[list[int]], sentence_ids: list[list[int]], pad: int,
                   batch_size: int = 64, progress=None) -> list[dict[str, np.ndarray]]:
    """The teacher's logits for each tokenized text, on exactly the student's inputs."""
    model.eval()
    out: list[dict | None] = [None] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        batch = collate(ids, sentence_ids, {}, index, pad)
        logits = model(batch["input_ids"], batch["attention_mask"], batch["sentence_ids"])
        for row, i in enumerate(index):
            one = {k: logits[k][row].numpy().copy() for k in ("touchpoints", *SOFTMAX_PARTS)}
            one["sentence_reasons"] = logits["sentence_reasons"][row, :max(sentence_ids[i]) + 1].numpy().copy()
            out[i] = one
        if progress is not None:
            progress.update(len(index))
    return out  # type: ignore[return-value]


def collate_soft(soft: list[dict[str, np.ndarray]], index: list[int]) -> dict[str, torch.Tensor]:
    """The batch's teacher logits; sentence logits padded to the batch's sentence count with ABSENT."""
    batch = {k: torch.from_numpy(np.stack([soft[i][k] for i in index])) for k in ("touchpoints", *SOFTMAX_PARTS)}
    n = max(max(len(soft[i]["sentence_reasons"]) for i in index), 1)
    n_reasons = soft[index[0]]["sentence_reasons"].shape[-1] if len(soft[index[0]]["sentence_reasons"]) else 0
    sentences = np.full((len(index), n, n_reasons or 1), 2 * ABSENT, dtype=np.float32)
    for row, i in enumerate(index):
        part = soft[i]["sentence_reasons"]
        sentences[row, :len(part)] = part
    batch["sentence_reasons"] = torch.from_numpy(sentences)
    return batch


def _kl(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    s = F.log_softmax(student / temperature, dim=-1)
    t = F.softmax(teacher / temperature, dim=-1)
    return F.kl_div(s, t, reduction="none").sum(-1).mean() * temperature ** 2


def _soft_bce(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    per_label = F.binary_cross_entropy_with_logits(student / temperature, torch.sigmoid(teacher / temperature),
                                                   reduction="none")
    return per_label.sum(-1).mean() * temperature ** 2


def soft_loss(student: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor], temperature: float
              ) -> torch.Tensor:
    """The heads' weights of the hard loss, each head matched to the teacher's distribution."""
    parts = {k: _kl(student[k], teacher[k], temperature) for k in SOFTMAX_PARTS}
    parts["touchpoints"] = _soft_bce(student["touchpoints"], teacher["touchpoints"], temperature)
    present = teacher["sentence_reasons"][..., 0] > ABSENT  # [B, S]
    width = student["sentence_reasons"].shape[1]
    present, target = present[:, :width], teacher["sentence_reasons"][:, :width]
    parts["urgent_reasons"] = _soft_bce(student["sentence_reasons"][present], target[present], temperature)
    return sum(HEAD_WEIGHTS[k] * v for k, v in parts.items())
