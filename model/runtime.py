"""Where a classifier's network runs: torch (always there) or ONNX Runtime (faster on CPU, optionally int8).

Both take the same padded numpy batch and give the same logits per head, so everything above them (windows,
calibration, decisions, evidence) is one code path whatever runs the matrix products."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

log = logging.getLogger(__name__)

RUNTIMES = ("torch", "onnxruntime")
PRECISIONS = ("fp32", "int8")
INPUT_NAMES = ("input_ids", "attention_mask", "sentence_ids", "sentence_slots")
ONNX_DIR = "onnx"
ONNX_FILES = {"fp32": "model.onnx", "int8": "model.int8.onnx"}


class Runtime(Protocol):
    name: str
    precision: str

    def logits(self, ids: np.ndarray, mask: np.ndarray, sentence_ids: np.ndarray, n_sentences: int
               ) -> dict[str, np.ndarray]:
        """Logits per head for a padded batch [B, L] whose sentence ids run from 0 to n_sentences - 1."""
        ...


class TorchRuntime:
    name = "torch"

    def __init__(self, model: torch.nn.Module, precision: str = "fp32"):
        self.model = model.eval()
        self.precision = precision

    @torch.inference_mode()
    def logits(self, ids, mask, sentence_ids, n_sentences):
        out = self.model(torch.from_numpy(ids), torch.from_numpy(mask), torch.from_numpy(sentence_ids),
                         torch.arange(n_sentences))
        return {k: v.float().numpy() for k, v in out.items()}


class OnnxRuntime:
    name = "onnxruntime"

    def __init__(self, path: Path, precision: str, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.precision = precision

    def logits(self, ids, mask, sentence_ids, n_sentences):
        feed = dict(zip(INPUT_NAMES, (ids, mask, sentence_ids, np.arange(n_sentences, dtype=np.int64))))
        return dict(zip(self.outputs, self.session.run(self.outputs, feed)))


def onnx_runtime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def onnx_path(directory: Path, precision: str) -> Path:
    return directory / ONNX_DIR / ONNX_FILES[precision]


def check_choice(runtime: str, precision: str) -> None:
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; valid: {', '.join(RUNTIMES)}")
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")


def resolve_runtime(directory: Path, runtime: str, precision: str) -> tuple[str, str]:
    """The runtime that will actually run: ONNX Runtime when asked for and present, else torch fp32, said once
    in the log (a model saved for ONNX still carries its torch weights, so it always loads)."""
    check_choice(runtime, precision)
    if runtime != "onnxruntime":
        return runtime, precision
    if not onnx_runtime_available():
        log.warning("onnxruntime is not installed: %s runs on torch fp32 instead", directory)
        return "torch", "fp32"
    if not onnx_path(directory, precision).is_file():
        log.warning("%s has no %s ONNX graph: it runs on torch fp32 instead", directory, precision)
        return "torch", "fp32"
    return runtime, precision
