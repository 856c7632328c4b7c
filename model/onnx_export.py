"""Export a transformer classifier's network to ONNX, and quantize the encoder's matrix products to int8.

The graph takes the same four inputs as `MultiTaskModel.forward` (the sentence slots as a tensor of their own:
an exported graph cannot size a tensor from a value inside another) and gives one output per head. Only the
encoder's products are quantized: they are nearly all the compute, while the small heads decide urgency from
calibrated probabilities and stay fp32."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch

from pvoice.model.modeling import MultiTaskModel
from pvoice.model.runtime import INPUT_NAMES, ONNX_DIR, onnx_path

log = logging.getLogger(__name__)
OPSET = 18
_HIDDEN = "encoder_hidden"  # exported only to find the encoder's nodes, then dropped from the graph's outputs


class _Graph(torch.nn.Module):
    def __init__(self, model: MultiTaskModel, names: list[str]):
        super().__init__()
        self.model, self.names = model, names

    def forward(self, input_ids, attention_mask, sentence_ids, sentence_slots):
        hidden = self.model.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        out = self.model.heads(hidden, attention_mask, sentence_ids, sentence_slots)
        return (*(out[k] for k in self.names), hidden)


def _example(vocab_size: int) -> tuple[torch.Tensor, ...]:
    """Two padded rows of two sentences: shapes and masks like a real batch, so no branch is traced away."""
    ids = torch.randint(5, max(vocab_size, 6), (2, 12))
    mask = torch.ones_like(ids)
    mask[1, 8:] = 0
    sentences = torch.zeros_like(ids)
    sentences[:, 6:] = 1
    sentences[1, 8:] = -1
    sentences[:, 0] = -1
    return ids, mask, sentences, torch.arange(2)


def export_fp32(model: MultiTaskModel, directory: Path) -> Path:
    """Write `<directory>/onnx/model.onnx`; returns its path."""
    model = model.eval()
    example = _example(model.encoder.config.vocab_size)
    with torch.no_grad():
        names = sorted(model(*example))
    batch, length, slots = torch.export.Dim("batch"), torch.export.Dim("length"), torch.export.Dim("sentences")
    per_token = {0: batch, 1: length}
    target = onnx_path(directory, "fp32")
    target.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on axis names and deprecated masks
        program = torch.onnx.export(
            _Graph(model, names), example, input_names=list(INPUT_NAMES), output_names=[*names, _HIDDEN],
            dynamic_shapes={"input_ids": per_token, "attention_mask": per_token, "sentence_ids": per_token,
                            "sentence_slots": {0: slots}},
            opset_version=OPSET, dynamo=True, external_data=False, verbose=False)
    program.save(str(target), external_data=False)
    return target


def _encoder_nodes(graph) -> tuple[set[str], list]:
    """Names of the nodes the encoder's output depends on, and the graph without that extra output."""
    producer = {out: node for node in graph.node for out in node.output}
    seen, stack = set(), [_HIDDEN]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in seen:
            continue
        seen.add(node.name)
        stack.extend(node.input)
    return seen, [o for o in graph.output if o.name != _HIDDEN]


def finish_fp32(path: Path) -> set[str]:
    """Drop the helper output from the saved graph; returns the encoder's node names (for quantization)."""
    import onnx

    model = onnx.load(str(path))
    encoder, outputs = _encoder_nodes(model.graph)
    del model.graph.output[:]
    model.graph.output.extend(outputs)
    # the exporter's recorded intermediate shapes hold the example's sizes in places; the quantizer's shape
    # inference would trip over them, and ONNX Runtime infers its own
    del model.graph.value_info[:]
    onnx.save(model, str(path))
    return {n.name for n in model.graph.node if n.name in encoder and n.op_type in ("MatMul", "Gemm")}


def quantize_int8(fp32: Path, target: Path, nodes: set[str]) -> Path:
    """int8 weights (per output channel) and int8 activations, scaled per batch at run time, on the
    encoder's products; the rest of the graph stays fp32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     nodes_to_quantize=sorted(nodes), op_types_to_quantize=["MatMul", "Gemm"])
    return target


def export_onnx(model: MultiTaskModel, directory: Path, precisions: tuple[str, ...] = ("fp32", "int8")
                ) -> dict[str, Path]:
    """The ONNX graphs of a saved model's network, by precision, written next to its torch weights."""
    fp32 = export_fp32(model, directory)
    nodes = finish_fp32(fp32)
    paths = {"fp32": fp32}
    if "int8" in precisions:
        paths["int8"] = quantize_int8(fp32, onnx_path(directory, "int8"), nodes)
    log.info("exported %s to %s", ", ".join(paths), directory / ONNX_DIR)
    return paths


def export_model_dir(directory: Path, *, precision: str = "int8", make_default: bool = True) -> dict[str, Path]:
    """Export a saved model's network next to its weights; with `make_default`, its classifier.json names ONNX
    Runtime at `precision`, so every loader (service, scoring, CLI) uses it and torch stays the fallback."""
    from pvoice.model.config import ClassifierConfig
    from pvoice.model.predictor import Classifier

    directory = Path(directory)
    classifier = Classifier.from_pretrained(directory, runtime="torch")
    paths = export_onnx(classifier.model, directory, ("fp32", "int8") if precision == "int8" else ("fp32",))
    if make_default:
        config = ClassifierConfig.load(directory)
        config.runtime, config.precision = "onnxruntime", precision
        config.save(directory)
    return paths
