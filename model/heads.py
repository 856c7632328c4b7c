"""The task heads on top of the pooled encoder output; each declares its own size."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class HeadSpec:
    name: str
    n_labels: int
    multi_label: bool
    # per-touchpoint heads give n_labels classes for each of n_slots slots
    n_slots: int = 1


class Head(nn.Module):
    """Dropout, a hidden layer and a linear map to the head's logits."""

    def __init__(self, hidden_size: int, spec: HeadSpec, dropout: float):
        super().__init__()
        self.spec = spec
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(hidden_size, hidden_size),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, spec.n_labels * spec.n_slots),
        )

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        logits = self.net(pooled)
        if self.spec.n_slots > 1:
            return logits.view(-1, self.spec.n_slots, self.spec.n_labels)
        return logits


def head_specs(labels: dict[str, list[str]]) -> list[HeadSpec]:
    """The five heads of the contract, sized from the label maps."""
    n_tp = len(labels["touchpoints"])
    n_sent = len(labels["sentiments"])
    return [
        HeadSpec("touchpoints", n_tp, multi_label=True),
        HeadSpec("aspects", n_sent, multi_label=False, n_slots=n_tp),
        HeadSpec("sentiment", n_sent, multi_label=False),
        HeadSpec("urgency", len(labels["urgency"]), multi_label=False),
        HeadSpec("urgent_reasons", len(labels["urgent_reasons"]), multi_label=True),
    ]


class MultiTaskHeads(nn.Module):
    def __init__(self, hidden_size: int, labels: dict[str, list[str]], dropout: float = 0.1):
        super().__init__()
        # Sentence embeddings share a large common direction; normalising it away lets new heads learn faster.
        self.norm = nn.LayerNorm(hidden_size)
        self.heads = nn.ModuleDict({spec.name: Head(hidden_size, spec, dropout) for spec in head_specs(labels)})

    def forward(self, pooled: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = self.norm(pooled)
        return {name: head(pooled) for name, head in self.heads.items()}
