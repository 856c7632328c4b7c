"""`Classifier`: the fine-tuned transformer, loaded from a model directory, that predicts."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from pvoice.labels import HEAD_NAMES, SOFTMAX_HEADS, activate
from pvoice.model.base import BaseClassifier
from pvoice.model.config import ClassifierConfig, ModelFormatError
from pvoice.model.files import make_private
from pvoice.model.decisions import HeadProbs
from pvoice.model.modeling import MultiTaskModel
from pvoice.model.runtime import OnnxRuntime, Runtime, TorchRuntime, onnx_path, resolve_runtime
from pvoice.model.sentences import encode_with_sentences
from pvoice.model.windows import make_windows, token_batches

ENCODER_DIR, TOKENIZER_DIR, HEADS_FILE = "encoder", "tokenizer", "heads.safetensors"


@dataclass
class Window:
    ids: list[int]  # special tokens included
    sentence_ids: list[int]  # the text's sentence index of each token, -1 for special tokens


class Classifier(BaseClassifier):
    """A fine-tuned encoder with multi-task heads, its tokenizer and its decision config."""

    def __init__(self, model: MultiTaskModel | None, tokenizer: PreTrainedTokenizerBase, config: ClassifierConfig,
                 runtime: Runtime | None = None):
        # `model` is None when ONNX Runtime runs the network: its torch weights stay on disk
        self.model = model.eval() if model is not None else None
        self.runtime = runtime or TorchRuntime(self.model)
        self.tokenizer = tokenizer
        self.config = config
        self._prefix = [tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id]
        self._suffix = [tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id]
        self._pad = tokenizer.pad_token_id or 0

    # ---- persistence -------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, directory: str | Path, *, quantize: str | None = None, runtime: str | None = None,
                        threads: int | None = None) -> "Classifier":
        """Load a saved transformer model on the runtime its config names (`runtime` overrides it: "torch" or
        "onnxruntime"); torch fp32 when ONNX Runtime or the model's graph is missing. `quantize="int8"` on torch
        applies dynamic int8 quantization to its linear layers, `quantize="fp32"` asks for fp32 on any runtime (the
default: the saved precision). `pvoice.model.load_classifier` loads a model of
        any architecture."""
        directory = Path(directory)
        config = ClassifierConfig.load(directory)
        if config.arch != "transformer":
            raise ModelFormatError(f"{directory} holds a {config.arch} model; load it with load_classifier()")
        if quantize not in (None, "int8", "fp32"):
            raise ValueError(f"unknown quantization {quantize!r}; valid: int8, fp32")
        hf_logging.disable_progress_bar()  # a per-tensor bar on every load is noise in a CLI or a service log
        tokenizer = AutoTokenizer.from_pretrained(str(directory / TOKENIZER_DIR))
        wanted = runtime or config.runtime
        # the saved precision belongs to the saved runtime; another runtime starts from fp32
        precision = quantize or (config.precision if wanted == config.runtime else "fp32")
        name, precision = resolve_runtime(directory, wanted, precision)
        if name == "onnxruntime":
            return cls(None, tokenizer, config, OnnxRuntime(onnx_path(directory, precision), precision, threads))
        model = MultiTaskModel.from_encoder_dir(directory / ENCODER_DIR, config.labels, config.head_dropout)
        model.heads.load_state_dict(load_file(directory / HEADS_FILE))
        if precision == "int8":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
            return cls(model, tokenizer, config, TorchRuntime(model, "int8"))
        return cls(model, tokenizer, config)

    def save_pretrained(self, directory: str | Path, *, card: str | None = None) -> Path:
        if self.model is None:
            raise ModelFormatError("a classifier loaded on ONNX Runtime has no torch weights in memory to save — "
                                   "load it with runtime='torch', or copy its folder")
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
        make_private(tmp)
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)  # a reader never sees a half-written model
        return directory

    # ---- inference ---------------------------------------------------------------------------
    def _windows(self, texts: Sequence[str]) -> tuple[list[list[Window]], list[list[tuple[int, int]]]]:
        body = self.config.max_length - len(self._prefix) - len(self._suffix)
        ids, sids, spans = encode_with_sentences(self.tokenizer, texts)
        stride = self.config.window_stride
        windows = [[Window(self._prefix + w + self._suffix, [-1] + s + [-1])
                    for w, s in zip(make_windows(x, body, stride), make_windows(y, body, stride))]
                   for x, y in zip(ids, sids)]
        return windows, spans

    def _window_logits(self, windows: list[Window], batch_size: int) -> list[dict[str, np.ndarray]]:
        """Logits of each window, in length-sorted batches of at most `batch_size` windows and
        `config.batch_tokens` padded tokens: short comments go many to a batch, long ones few, and little
        compute goes to padding."""
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].ids))
        out: list[dict[str, np.ndarray] | None] = [None] * len(windows)
        for idx in token_batches([len(windows[i].ids) for i in order], order, batch_size, self.config.batch_tokens):
            width = len(windows[idx[-1]].ids)  # sorted: the last is the longest
            ids = np.full((len(idx), width), self._pad, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            sent = np.full((len(idx), width), -1, dtype=np.int64)
            # sentence indices local to the window, so that a window's tensor is as small as its sentences
            local = [sorted({s for s in windows[i].sentence_ids if s >= 0}) for i in idx]
            for row, i in enumerate(idx):
                n = len(windows[i].ids)
                ids[row, :n] = windows[i].ids
                mask[row, :n] = 1
                pos = {s: k for k, s in enumerate(local[row])}
                sent[row, :n] = [pos.get(s, -1) for s in windows[i].sentence_ids]
            logits = self.runtime.logits(ids, mask, sent, max(1, max(len(x) for x in local)))
            for row, i in enumerate(idx):
                one = {k: v[row] for k, v in logits.items()}
                one["sentence_reasons"] = one["sentence_reasons"][:len(local[row])]
                one["sentence_index"] = np.asarray(local[row], dtype=np.int64)
                out[i] = one
        return out  # type: ignore[return-value]

    def _calibrated(self, logits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        t = self.config.temperature
        probs = {name: activate(name, logits[name] / t(name)) for name in HEAD_NAMES}
        probs["sentence_reasons"] = activate("urgent_reasons", logits["sentence_reasons"] / t("urgent_reasons"))
        return probs

    @staticmethod
    def _pool_windows(per_window: list[dict[str, np.ndarray]], spans: list[tuple[int, int]]) -> HeadProbs:
        """A label present anywhere in a long text counts: max over windows, renormalised for softmax heads;
        a sentence split by a window edge keeps its strongest reading."""
        stacked = {k: np.stack([w[k] for w in per_window]).max(axis=0) for k in HEAD_NAMES}
        for k in SOFTMAX_HEADS:
            stacked[k] = stacked[k] / stacked[k].sum(axis=-1, keepdims=True)
        n_reasons = stacked["urgent_reasons"].shape[-1]
        sentence = np.zeros((len(spans), n_reasons), dtype=np.float32)
        for w in per_window:
            idx = w["sentence_index"]
            sentence[idx] = np.maximum(sentence[idx], w["sentence_reasons"])
        return HeadProbs(**stacked, sentence_reasons=sentence, sentences=spans)

    def head_probabilities(self, texts: Sequence[str], batch_size: int = 32) -> list[tuple[HeadProbs, int]]:
        per_text, spans = self._windows(texts)
        flat = [w for ws in per_text for w in ws]
        logits = self._window_logits(flat, batch_size)
        result, pos = [], 0
        for ws, sp in zip(per_text, spans):
            probs = []
            for lg in logits[pos:pos + len(ws)]:
                p = self._calibrated(lg)
                p["sentence_index"] = lg["sentence_index"]
                probs.append(p)
            result.append((self._pool_windows(probs, sp), len(ws)))
            pos += len(ws)
        return result
