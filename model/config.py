"""The self-description a saved classifier carries (`classifier.json`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pvoice.labels import LABEL_LISTS

FORMAT_VERSION = 3  # 2: per-touchpoint attention in the heads; 3: urgent reasons scored per sentence
CONFIG_NAME = "classifier.json"


class ModelFormatError(ValueError):
    """A model directory that this version of patient-voice cannot read."""


@dataclass
class ClassifierConfig:
    """Label maps, decision thresholds and calibration of a trained classifier.

    Label maps are copied from the taxonomy at training time, so a saved model keeps working
    (and says what it predicts) even after the taxonomy file changes.
    """

    labels: dict[str, list[str]]
    arch: str = "transformer"  # "transformer" or "linear"
    # names this trained model in stored suggestions and audit trails
    model_version: str = ""
    base_model: str = ""
    max_length: int = 256
    window_stride: int = 128
    head_dropout: float = 0.1
    # where the network runs (`pvoice.model.runtime`: torch or onnxruntime) and at which precision
    runtime: str = "torch"
    precision: str = "fp32"
    # padded tokens per inference batch: short comments go many to a batch, long windows few
    batch_tokens: int = 4096
    # per-touchpoint and per-reason decision thresholds on calibrated probabilities
    touchpoint_thresholds: dict[str, float] = field(default_factory=dict)
    reason_thresholds: dict[str, float] = field(default_factory=dict)
    # urgency rests on sentences: a comment whose strongest sentence gives some urgent reason a calibrated
    # probability at or above `page_threshold` is urgent and pages; from `review_threshold` up to it, the
    # comment is a complaint marked for a person to review
    page_threshold: float = 0.5
    review_threshold: float = 0.3
    # temperature per head, fitted on dev (1.0 = uncalibrated)
    temperatures: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, dict] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        for head in LABEL_LISTS:
            if not self.labels.get(head):
                raise ModelFormatError(f"classifier config lacks the label list '{head}'")
        tps, reasons = self.labels["touchpoints"], self.labels["urgent_reasons"]
        self.touchpoint_thresholds = {t: float(self.touchpoint_thresholds.get(t, 0.5)) for t in tps}
        self.reason_thresholds = {r: float(self.reason_thresholds.get(r, 0.5)) for r in reasons}

    @property
    def touchpoints(self) -> list[str]:
        return self.labels["touchpoints"]

    @property
    def sentiments(self) -> list[str]:
        return self.labels["sentiments"]

    @property
    def urgency(self) -> list[str]:
        return self.labels["urgency"]

    @property
    def reasons(self) -> list[str]:
        return self.labels["urgent_reasons"]

    def temperature(self, head: str) -> float:
        return float(self.temperatures.get(head, 1.0))

    def save(self, directory: Path) -> None:
        (directory / CONFIG_NAME).write_text(json.dumps(asdict(self), ensure_ascii=False, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "ClassifierConfig":
        path = directory / CONFIG_NAME
        if not directory.is_dir():
            raise ModelFormatError(f"no model directory at {directory} — train one with `make model` (`pvoice "
                                   "model ensure`), or point --model / PVOICE_MODEL_DIR at a trained model's folder")
        if not path.exists():
            raise ModelFormatError(f"{directory} is not a patient-voice model: {CONFIG_NAME} is missing — "
                                   "train one with `pvoice train`, or copy the whole model folder")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise ModelFormatError(f"{path}: not readable JSON ({exc}) — copy the model folder again, or "
                                   "retrain it") from None
        version = raw.get("format_version")
        if version != FORMAT_VERSION:
            raise ModelFormatError(f"{path}: format version {version}, this patient-voice reads {FORMAT_VERSION}")
        return cls(**raw)
