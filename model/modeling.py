"""Encoder + heads: the network behind the classifier."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers.masking_utils import create_bidirectional_mask

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
                sentence_ids: torch.Tensor | None = None, sentence_slots: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.heads(hidden, attention_mask, sentence_ids, sentence_slots)

    def lower_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, n_layers: int) -> torch.Tensor:
        """The token states that enter encoder layer `n_layers` (BERT family): while the lower layers are frozen
        they never change, so training computes them once instead of every epoch."""
        layers = self.encoder.encoder.layer
        try:
            self.encoder.encoder.layer = layers[:n_layers]
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        finally:
            self.encoder.encoder.layer = layers

    def forward_from(self, hidden: torch.Tensor, attention_mask: torch.Tensor, sentence_ids: torch.Tensor | None,
                     start_layer: int) -> dict[str, torch.Tensor]:
        """`forward` continued from the states that `lower_states(..., start_layer)` gave."""
        mask = create_bidirectional_mask(config=self.encoder.config, inputs_embeds=hidden,
                                         attention_mask=attention_mask)
        for layer in self.encoder.encoder.layer[start_layer:]:
            hidden = layer(hidden, mask)
        return self.heads(hidden, attention_mask, sentence_ids)

    def freeze_lower_layers(self, n: int) -> None:
        """Freeze all embeddings and the `n` lowest encoder layers: the backward pass stops above them."""
        for p in self.encoder.embeddings.parameters():
            p.requires_grad_(False)
        for layer in self.encoder.encoder.layer[:n]:
            for p in layer.parameters():
                p.requires_grad_(False)

    def freeze_word_embeddings(self) -> None:
        """Skip the optimizer's largest, least useful matrix (the 250k-row vocabulary)."""
        self.encoder.get_input_embeddings().weight.requires_grad_(False)
