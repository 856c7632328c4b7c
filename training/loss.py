"""The multi-task loss: one term per head, weighted against class imbalance, parts logged."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pvoice.labels import HEAD_NAMES

# Multi-label heads sum their per-label losses (each label is a decision of its own, and a mean over 15 mostly
# negative labels starves them of gradient); the weights bring the heads to a similar scale.
# Reasons are learnt on every comment (multiple-instance: a comment's reason logit is its strongest
# sentence's), so that calm sentences learn to carry none; their term carries the paging decision.
HEAD_WEIGHTS = {"touchpoints": 0.3, "aspects": 1.0, "sentiment": 1.0, "urgency": 1.0, "urgent_reasons": 1.5}
assert set(HEAD_WEIGHTS) == set(HEAD_NAMES), "one loss weight per head of pvoice.labels"


def _multi_label(logits: torch.Tensor, target: torch.Tensor, pos_weight: torch.Tensor) -> torch.Tensor:
    per_label = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight, reduction="none")
    return per_label.sum(1).mean()


def _pos_weight(multi_hot: np.ndarray) -> torch.Tensor:
    pos = multi_hot.sum(0).clip(min=1)
    return torch.tensor(np.sqrt((len(multi_hot) - pos) / pos).clip(1.0, 10.0), dtype=torch.float32)


def _class_weight(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    counts = np.bincount(labels, minlength=n_classes).clip(min=1)
    return torch.tensor(np.sqrt(len(labels) / (n_classes * counts)), dtype=torch.float32)


class MultiTaskLoss(nn.Module):
    """Class weights are the square root of inverse frequency: rare classes (urgent, a rare reason)
    count more without drowning the common ones."""

    def __init__(self, targets: dict[str, np.ndarray], n_sentiments: int, n_urgency: int, urgent_index: int):
        super().__init__()
        self.urgent_index = urgent_index
        self.register_buffer("tp_pos_weight", _pos_weight(targets["touchpoints"]))
        self.register_buffer("reason_pos_weight", _pos_weight(targets["urgent_reasons"]))
        self.register_buffer("sentiment_weight", _class_weight(targets["sentiment"], n_sentiments))
        self.register_buffer("urgency_weight", _class_weight(targets["urgency"], n_urgency))
        aspects = targets["aspects"][targets["aspects"] >= 0]
        self.register_buffer("aspect_weight", _class_weight(aspects, n_sentiments))

    def forward(self, logits: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
                ) -> tuple[torch.Tensor, dict[str, float]]:
        parts = {
            "touchpoints": _multi_label(logits["touchpoints"], batch["touchpoints"], self.tp_pos_weight),
            "aspects": F.cross_entropy(logits["aspects"].flatten(0, 1), batch["aspects"].flatten(),
                                       weight=self.aspect_weight, ignore_index=-1),
            "sentiment": F.cross_entropy(logits["sentiment"], batch["sentiment"], weight=self.sentiment_weight),
            "urgency": F.cross_entropy(logits["urgency"], batch["urgency"], weight=self.urgency_weight),
            "urgent_reasons": _multi_label(logits["urgent_reasons"], batch["urgent_reasons"], self.reason_pos_weight),
        }
        total = sum(HEAD_WEIGHTS[k] * v for k, v in parts.items())
        return total, {k: float(v.detach()) for k, v in parts.items()}
