"""`Classifier`: the one entry point to load a trained model and predict."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import overload

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from model.config import ClassifierConfig
from model.decisions import HeadProbs, decide
from model.evidence import explain
from model.modeling import MultiTaskModel
from model.results import Prediction
from model.windows import make_windows

ENCODER_DIR, TOKENIZER_DIR, HEADS_FILE = "encoder", "tokenizer", "heads.safetensors"


class InputError(ValueError):
    """A text the classifier cannot take (empty, not a string)."""


def _check_texts(texts: Sequence[str]) -> None:
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"texts[{i}] is {type(text).__name__}, expected a string")
        if not text.strip():
            raise InputError(f"texts[{i}] is empty or whitespace only")


class Classifier:
    """A fine-tuned encoder with multi-task heads, its tokenizer and its decision config."""

    def __init__(self, model: MultiTaskModel, tokenizer: PreTrainedTokenizerBase, config: ClassifierConfig):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.config = config
        self._prefix = [tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id]
        self._suffix = [tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id]
        self._pad = tokenizer.pad_token_id or 0

    # ---- persistence -------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, directory: str | Path, *, quantize: str | None = None):
        """Load a saved model; `quantize="int8"` applies dynamic int8 quantization to its linear layers."""
        directory = Path(directory)
        config = ClassifierConfig.load(directory)
        hf_logging.disable_progress_bar()  # a per-tensor bar on every load is noise in a CLI or a service log
        if config.arch == "linear":
            from model.linear import LinearClassifier

            return LinearClassifier.from_pretrained(directory)
        model = MultiTaskModel.from_encoder_dir(directory / ENCODER_DIR, config.labels, config.head_dropout)
        model.heads.load_state_dict(load_file(directory / HEADS_FILE))
        tokenizer = AutoTokenizer.from_pretrained(str(directory / TOKENIZER_DIR))
        if quantize == "int8":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        elif quantize is not None:
            raise ValueError(f"unknown quantization {quantize!r}; valid: int8")
        return cls(model, tokenizer, config)

    def save_pretrained(self, directory: str | Path, *, card: str | None = None) -> Path:
        directory = Path(directory)
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self.model.encoder.save_pretrained(tmp / ENCODER_DIR)
        save_file({k: v.contiguous() for k, v in self.model.heads.state_dict().items()}, tmp / HEADS_FILE)
        self.tokenizer.save_pretrained(str(tmp / TOKENIZER_DIR))
        self.config.save(tmp)
        if card is not None:
            (tmp / "README.md").write_text(card, encoding="utf-8")
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)  # a reader never sees a half-written model
        return directory

    # ---- inference ---------------------------------------------------------------------------
    def _windows(self, texts: Sequence[str]) -> list[list[list[int]]]:
        body = self.config.max_length - len(self._prefix) - len(self._suffix)
        encoded = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [[self._prefix + w + self._suffix for w in make_windows(ids, body, self.config.window_stride)]
                for ids in encoded]

    @torch.inference_mode()
    def _window_logits(self, windows: list[list[int]], batch_size: int) -> list[dict[str, np.ndarray]]:
        """Logits of each window, batched by length so that little compute goes to padding."""
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        out: list[dict[str, np.ndarray] | None] = [None] * len(windows)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(windows[i]) for i in idx)
            ids = torch.full((len(idx), width), self._pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                ids[row, :len(windows[i])] = torch.tensor(windows[i])
                mask[row, :len(windows[i])] = 1
            logits = self.model(ids, mask)
            for row, i in enumerate(idx):
                out[i] = {k: v[row].float().numpy() for k, v in logits.items()}
        return out  # type: ignore[return-value]

    def _calibrated(self, logits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        def sigmoid(x):
            return 1.0 / (1.0 + np.exp(-x))

        def softmax(x):
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)

        t = self.config.temperature
        return {
            "touchpoints": sigmoid(logits["touchpoints"] / t("touchpoints")),
            "aspects": softmax(logits["aspects"] / t("aspects")),
            "sentiment": softmax(logits["sentiment"] / t("sentiment")),
            "urgency": softmax(logits["urgency"] / t("urgency")),
            "urgent_reasons": sigmoid(logits["urgent_reasons"] / t("urgent_reasons")),
        }

    @staticmethod
    def _pool_windows(per_window: list[dict[str, np.ndarray]]) -> HeadProbs:
        """A label present anywhere in a long text counts: max over windows, renormalised for softmax heads."""
        stacked = {k: np.stack([w[k] for w in per_window]).max(axis=0) for k in per_window[0]}
        for k in ("aspects", "sentiment", "urgency"):
            stacked[k] = stacked[k] / stacked[k].sum(axis=-1, keepdims=True)
        return HeadProbs(**stacked)

    def head_probabilities(self, texts: Sequence[str], batch_size: int = 32) -> list[tuple[HeadProbs, int]]:
        """Calibrated probabilities per text and the number of windows it took."""
        per_text = self._windows(texts)
        flat = [w for ws in per_text for w in ws]
        logits = self._window_logits(flat, batch_size)
        result, pos = [], 0
        for ws in per_text:
            probs = [self._calibrated(lg) for lg in logits[pos:pos + len(ws)]]
            result.append((self._pool_windows(probs), len(ws)))
            pos += len(ws)
        return result

    @overload
    def predict(self, texts: str, batch_size: int = ..., evidence: bool = ...) -> Prediction: ...
    @overload
    def predict(self, texts: Sequence[str], batch_size: int = ..., evidence: bool = ...) -> list[Prediction]: ...

    def predict(self, texts, batch_size: int = 32, evidence: bool = False):
        """Labels, calibrated probabilities and (with `evidence=True`) the words that drove them.

        A single string gives a single Prediction; a list gives a list in input order.
        """
        single = isinstance(texts, str)
        batch = [texts] if single else list(texts)
        _check_texts(batch)
        results = []
        for text, (probs, n_windows) in zip(batch, self.head_probabilities(batch, batch_size)):
            pred = decide(text, probs, self.config)
            pred.windows, pred.truncated = n_windows, n_windows > 1
            results.append(pred)
        if evidence:
            for pred in results:
                pred.evidence = explain(self, pred, batch_size=batch_size)
        return results[0] if single else results
