"""The task heads on top of the encoder's token states; each declares its own size.

Comment-level heads read the mean-pooled comment vector. Touchpoint and aspect heads also read one
attention-pooled vector per touchpoint: a comment that thanks the doctor and blames the pharmacy needs a
different view of its tokens for each, which a single pooled vector cannot give. Urgent reasons are scored
on each sentence's own pooled vector and a comment carries a reason as strongly as its strongest sentence
(multiple-instance learning): length alone cannot make a comment urgent."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from pvoice.labels import HEADS


@dataclass(frozen=True)
class HeadSpec:
    name: str
    n_labels: int
    multi_label: bool
    # per-touchpoint heads give n_labels classes for each of n_slots slots
    n_slots: int = 1


class Head(nn.Module):
    """Dropout, a hidden layer and a linear map to the head's logits."""

    def __init__(self, hidden_size: int, spec: HeadSpec, dropout: float, input_size: int | None = None):
        super().__init__()
        self.spec = spec
        self.net = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(input_size or hidden_size, hidden_size),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, spec.n_labels * spec.n_slots),
        )

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        logits = self.net(pooled)
        if self.spec.n_slots > 1:
            return logits.view(-1, self.spec.n_slots, self.spec.n_labels)
        return logits


class TouchpointAttention(nn.Module):
    """One learned query per touchpoint attends over the tokens and returns a vector per touchpoint."""

    def __init__(self, hidden_size: int, n_touchpoints: int):
        super().__init__()
        self.key = nn.Linear(hidden_size, hidden_size)
        self.queries = nn.Parameter(torch.randn(n_touchpoints, hidden_size) * hidden_size ** -0.5)
        self.scale = hidden_size ** -0.5

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = torch.einsum("bld,td->btl", self.key(hidden), self.queries) * self.scale
        scores = scores.masked_fill(~mask.bool()[:, None, :], torch.finfo(scores.dtype).min)
        return torch.einsum("btl,bld->btd", scores.softmax(-1), hidden)


def head_specs(labels: dict[str, list[str]]) -> list[HeadSpec]:
    """The heads of the contract (`pvoice.labels.HEADS`), sized from a model's label maps."""
    return [HeadSpec(h.name, len(labels[h.labels]), h.kind == "multi_label",
                     n_slots=len(labels[h.per]) if h.per else 1) for h in HEADS]


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens: the pooling multilingual-e5 was trained with."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def sentence_pool(hidden: torch.Tensor, sentence_ids: torch.Tensor, slots: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean token state of each sentence [B, S, D] and which sentences exist [B, S]; token ids -1 belong to none.

    `slots` ([S]: 0..S-1) may be given instead of being read from the ids: an exported graph cannot size a
    tensor from a value inside another, so the ONNX model takes it as an input."""
    if slots is None:
        slots = torch.arange(max(int(sentence_ids.max()) + 1, 1), device=hidden.device)
    member = (sentence_ids.unsqueeze(-1) == slots).to(hidden.dtype)  # [B, L, S]
    counts = member.sum(1)
    pooled = torch.einsum("bls,bld->bsd", member, hidden) / counts.clamp(min=1.0).unsqueeze(-1)
    return pooled, counts > 0


class MultiTaskHeads(nn.Module):
    def __init__(self, hidden_size: int, labels: dict[str, list[str]], dropout: float = 0.1):
        super().__init__()
        n_tp = len(labels["touchpoints"])
        # Sentence embeddings share a large common direction; normalising it away lets new heads learn faster.
        self.norm = nn.LayerNorm(hidden_size)
        self.slot_norm = nn.LayerNorm(hidden_size)
        self.attention = TouchpointAttention(hidden_size, n_tp)
        self.slot_dropout = nn.Dropout(dropout)
        # each touchpoint's presence is also read from its own attended vector, by its own weights
        self.slot_presence = nn.Parameter(torch.zeros(n_tp, hidden_size))
        specs = head_specs(labels)
        self.heads = nn.ModuleDict({spec.name: Head(hidden_size, spec, dropout) for spec in specs
                                    if spec.name not in ("aspects", "urgent_reasons")})
        self.sentence_norm = nn.LayerNorm(hidden_size)
        reasons = next(spec for spec in specs if spec.name == "urgent_reasons")
        self.sentence_reasons = Head(hidden_size, reasons, dropout)
        # one aspect classifier shared by all touchpoints, fed that touchpoint's vector and the whole comment's
        aspect = next(spec for spec in specs if spec.name == "aspects")
        self.aspects = Head(hidden_size, HeadSpec(aspect.name, aspect.n_labels, False), dropout, 2 * hidden_size)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor, sentence_ids: torch.Tensor | None = None,
                sentence_slots: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Logits per head; `sentence_reasons` [B, S, R] holds each sentence's, -1e4 where no sentence is."""
        if sentence_ids is None:  # the whole input as one sentence
            sentence_ids = torch.where(mask.bool(), 0, -1)
        pooled = self.norm(mean_pool(hidden, mask))
        slots = self.slot_norm(self.attention(hidden, mask))
        logits = {name: head(pooled) for name, head in self.heads.items()}
        logits["touchpoints"] = logits["touchpoints"] + torch.einsum(
            "btd,td->bt", self.slot_dropout(slots), self.slot_presence)
        context = pooled.unsqueeze(1).expand_as(slots)
        logits["aspects"] = self.aspects(torch.cat([slots, context], dim=-1))
        sentences, present = sentence_pool(hidden, sentence_ids, sentence_slots)
        per_sentence = self.sentence_reasons(self.sentence_norm(sentences))
        per_sentence = per_sentence.masked_fill(~present.unsqueeze(-1), -1e4)
        logits["sentence_reasons"] = per_sentence
        logits["urgent_reasons"] = per_sentence.max(dim=1).values
        return logits
