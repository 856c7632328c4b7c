"""With the real base model (slow): a few fine-tuning steps lower the loss; predict runs end to end."""

from __future__ import annotations

import pytest
import torch

from pvoice.model.modeling import MultiTaskModel
from pvoice.labels import load_taxonomy
from pvoice.settings import get_settings
from pvoice.training.corpus import read_corpus
from pvoice.training.data import label_targets, to_dataset, tokenize_dataset
from pvoice.training.loss import MultiTaskLoss
from pvoice.training.data import collate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base_dir():
    from pvoice.model.base_convert import prepare_base

    return prepare_base(get_settings().cache_dir / "e5-small")


def test_a_few_fine_tuning_steps_lower_the_loss(base_dir):
    from transformers import AutoTokenizer

    torch.manual_seed(0)
    tax = load_taxonomy()
    rows = read_corpus([get_settings().corpus_dir], tax)[::160][:32]
    ds = to_dataset(rows, tax)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    tok = tokenize_dataset(ds, tokenizer, 64)
    ids = tok["input_ids"]
    targets = label_targets(ds)
    model = MultiTaskModel.from_encoder_dir(base_dir, tax.label_maps())
    model.freeze_word_embeddings()
    loss_fn = MultiTaskLoss(targets, 3, 3, tax.urgency_ids.index("urgent"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    batch = collate(ids, tok["sentence_ids"], targets, list(range(len(ids))), tokenizer.pad_token_id)
    model.train()
    losses = []
    for _ in range(6):
        loss, _ = loss_fn(model(batch["input_ids"], batch["attention_mask"], batch["sentence_ids"]), batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses
