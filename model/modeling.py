"""Encoder + heads: the network behind the classifier."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel

from pvoice.model.heads import MultiTaskHeads


def _without_pooler(build, *args):
    """BERT-family encoders accept `add_pooling_layer`; others have no pooler to drop."""
    try:
        return build(*args, add_pooling_layer=False)
    except TypeError:
        return build(*args)


class MultiTaskModel(nn.Module):
    def __init__(self, encoder: PreTrainedModel, labels: dict[str, list[str]], dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.heads = MultiTaskHeads(encoder.config.hidden_size, labels, dropout)

    @classmethod
    def from_encoder_dir(cls, encoder_dir: str | Path, labels: dict[str, list[str]], dropout: float = 0.1
                         ) -> "MultiTaskModel":
        """A new model on a pretrained encoder (a local directory or any hub id)."""
        return cls(_without_pooler(AutoModel.from_pretrained, str(encoder_dir)), labels, dropout)

    @classmethod
    def from_encoder_config(cls, encoder_dir: str | Path, labels: dict[str, list[str]]) -> "MultiTaskModel":
        """The same architecture with uninitialised weights, to load a saved state into."""
        config = AutoConfig.from_pretrained(str(encoder_dir))
        return cls(_without_pooler(AutoModel.from_config, config), labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                sentence_ids: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.heads(hidden, attention_mask, sentence_ids)

    def freeze_word_embeddings(self) -> None:
        """Skip the optimizer's largest, least useful matrix (the 250k-row vocabulary)."""
        self.encoder.get_input_embeddings().weight.requires_grad_(False)
