"""`pvoice train`: fine-tune the encoder and heads (or fit the linear baseline), calibrate on dev, save."""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm
from transformers import AutoTokenizer

from pvoice.model.config import ClassifierConfig
from pvoice.model.linear import LinearClassifier
from pvoice.model.modeling import MultiTaskModel
from pvoice.model.loading import load_classifier
from pvoice.model.predictor import ENCODER_DIR, Classifier
from pvoice.labels import load_taxonomy
from pvoice.training.args import TrainArgs
from pvoice.training.base import resolve_base_model
from pvoice.training.calibration import calibrated_dev_scores
from pvoice.training.card import model_card
from pvoice.training.corpus import read_corpus
from pvoice.training.distill import collate_soft, comment_like_texts, soft_loss, teacher_logits
from pvoice.training.data import collate, label_targets, split_rows, to_dataset, tokenize_dataset
from pvoice.training.splits import normalize_text
from pvoice.training.evaluation import PRIMARY_METRIC, evaluate
from pvoice.training.loss import MultiTaskLoss
from pvoice.training.out_of_domain import polarity_accuracy
from pvoice.training.schedule import BudgetSchedule
from pvoice.training.versions import library_versions

log = logging.getLogger(__name__)
CHECKPOINT_DIR = "checkpoint"
FIT_AFTER_STEPS = 30  # steps timed before the decay is first fitted to the budget


@dataclass
class TrainResult:
    output_dir: Path
    dev: dict
    test: dict
    history: list[dict]
    minutes: float
    real: dict = field(default_factory=dict)  # metrics per real-text file, after calibration
    reviewed: dict = field(default_factory=dict)  # the reviewed rows added to training (`--extra`)

    @property
    def epochs_run(self) -> int:
        return len(self.history)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _length_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar lengths: little padding, still a different order every epoch."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def _batches(ids: list[list[int]], n_labeled: int, batch_size: int, rng: random.Random) -> list[list[int]]:
    """Length batches of the labeled rows and, apart, of the unlabeled texts after them (their loss is the
    teacher's alone), shuffled together."""
    labeled = _length_batches([len(x) for x in ids[:n_labeled]], batch_size, rng)
    unlabeled = [[n_labeled + i for i in b] for b in
                 _length_batches([len(x) for x in ids[n_labeled:]], batch_size, rng)] if len(ids) > n_labeled else []
    batches = labeled + unlabeled
    rng.shuffle(batches)
    return batches


def _frozen_states(model: MultiTaskModel, ids: list[list[int]], n_layers: int, pad: int, progress: bool,
                   batch_size: int = 64) -> list[torch.Tensor]:
    """Each training text's token states above the frozen layers, computed once for all epochs."""
    model.eval()
    out: list[torch.Tensor | None] = [None] * len(ids)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with torch.no_grad():
        for start in tqdm(range(0, len(order), batch_size), desc=f"encoding through the {n_layers} frozen layers",
                          disable=not progress, unit="batch"):
            index = order[start:start + batch_size]
            width = max(len(ids[i]) for i in index)
            input_ids = torch.tensor([ids[i] + [pad] * (width - len(ids[i])) for i in index])
            mask = torch.tensor([[1] * len(ids[i]) + [0] * (width - len(ids[i])) for i in index])
            states = model.lower_states(input_ids, mask, n_layers)
            for row, i in enumerate(index):
                out[i] = states[row, :len(ids[i])].clone()
    return out  # type: ignore[return-value]


def _padded(states: list[torch.Tensor], index: list[int]) -> torch.Tensor:
    width = max(len(states[i]) for i in index)
    out = torch.zeros(len(index), width, states[index[0]].shape[-1])
    for row, i in enumerate(index):
        out[row, :len(states[i])] = states[i]
    return out


def _optimizer(model: MultiTaskModel, args: TrainArgs) -> torch.optim.Optimizer:
    no_decay = ("bias", "LayerNorm", "layer_norm", "ln")
    groups: dict[tuple[float, float], list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        lr = args.head_learning_rate if name.startswith("heads.") else args.learning_rate
        wd = 0.0 if any(k in name for k in no_decay) else args.weight_decay
        groups.setdefault((lr, wd), []).append(p)
    return torch.optim.AdamW([{"params": ps, "lr": lr, "weight_decay": wd} for (lr, wd), ps in groups.items()])


def _fit_schedule(scheduler: BudgetSchedule, steps_timed: int, since: float, deadline: float) -> None:
    """Fit the decay to the pace of the last `steps_timed` steps, taken since `since`."""
    now = time.monotonic()
    if steps_timed > 0:
        scheduler.fit_to_budget(scheduler.steps_done, (now - since) / steps_timed, deadline - now)
        log.info("learning rate decays to zero at step %d (the time budget)", scheduler.total)


def _truncate_layers(model: MultiTaskModel, n: int) -> None:
    layers = model.encoder.encoder.layer
    if n < len(layers):
        model.encoder.encoder.layer = layers[:n]
        model.encoder.config.num_hidden_layers = n


def _save_checkpoint(directory: Path, model, optimizer, scheduler, state: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, directory / "model.safetensors")
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, directory / "optim.pt")
    (directory / "state.json").write_text(json.dumps(state), encoding="utf-8")


def _load_checkpoint(directory: Path, model, optimizer, scheduler) -> dict:
    model.load_state_dict(load_file(directory / "model.safetensors"))
    optim = torch.load(directory / "optim.pt", weights_only=True)
    optimizer.load_state_dict(optim["optimizer"])
    scheduler.load_state_dict(optim["scheduler"])
    return json.loads((directory / "state.json").read_text(encoding="utf-8"))


def add_reviewed_rows(splits: dict[str, list], paths: list[str], tax) -> dict:
    """Reviewed rows (exported from the review queue) join the training split, never dev or test: they were
    labeled after looking at the model's suggestion, and their comments may resemble corpus rows already held
    out. A row whose normalized text is in dev or test is left out. Returns what the model card records."""
    if not paths:
        return {"files": [], "rows": 0, "left_out": 0}
    extra = read_corpus(paths, tax)
    held_out = {normalize_text(r.text) for name in ("dev", "test") for r in splits.get(name, [])}
    kept = [r for r in extra if normalize_text(r.text) not in held_out]
    splits["train"] = [*splits["train"], *kept]
    return {"files": [str(p) for p in paths], "rows": len(kept), "left_out": len(extra) - len(kept)}


def train(args: TrainArgs, *, progress: bool = True) -> TrainResult:
    start = time.monotonic()
    _seed_everything(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    tax = load_taxonomy()
    from pvoice.settings import get_settings

    rows = read_corpus(args.data or [get_settings().corpus_dir], tax)
    splits = split_rows(rows)
    reviewed = add_reviewed_rows(splits, args.extra, tax)
    datasets = {name: to_dataset(part, tax) for name, part in splits.items()}
    config = ClassifierConfig(labels=tax.label_maps(), arch=args.arch, base_model=args.base_model,
                              max_length=args.max_length, window_stride=args.max_length // 2,
                              versions=library_versions())
    config.model_version = f"{args.arch}-{time.strftime('%Y%m%d-%H%M%S')}"
    if args.arch == "linear":
        classifier = LinearClassifier.fit([r.text for r in splits["train"]], label_targets(datasets["train"]),
                                          config, C=args.linear_c)
        history = [{"epoch": 1}]
    else:
        classifier, history = _fine_tune(args, config, datasets, splits, progress)
    raw_dev = evaluate(classifier, splits["dev"])  # config has no temperatures yet: raw probabilities
    dev = calibrated_dev_scores(config, splits["dev"], raw_dev.probs, label_targets(datasets["dev"]),
                                args.target_urgent_recall, args.target_review_recall).metrics
    test = evaluate(classifier, splits["test"]).metrics
    real_sets = {Path(p).stem: read_corpus([p], tax, require_channel=False, real_text=True) for p in args.real_eval}
    real = {name: evaluate(classifier, rows).metrics for name, rows in real_sets.items()}
    compare = {}
    for other_dir in args.compare:  # e.g. the linear baseline, on exactly the same test and real rows
        other = load_classifier(other_dir)
        compare[f"{other.config.arch} test ({Path(other_dir).name})"] = evaluate(other, splits["test"]).metrics
        for name, rows in real_sets.items():
            compare[f"{other.config.arch} {name} ({Path(other_dir).name})"] = evaluate(other, rows).metrics
    config.metrics = {"dev": dev, "test": test, "real": real, "compare": compare,
                      "split_sizes": {k: len(v) for k, v in splits.items()},
                      "reviewed_rows": reviewed,
                      "history": history,
                      "train_args": json.loads(json.dumps(asdict(args), default=str))}
    if args.out_of_domain:
        config.metrics["out_of_domain"] = polarity_accuracy(classifier)
    minutes = (time.monotonic() - start) / 60
    config.metrics["train_minutes"] = round(minutes, 2)
    classifier.save_pretrained(args.output_dir, card=model_card(config))
    return TrainResult(args.output_dir, dev, test, history, minutes, real, reviewed)


def _start_model(args: TrainArgs, config: ClassifierConfig) -> tuple[MultiTaskModel, object, Classifier | None]:
    """The network to train, its tokenizer and (when distilling) the teacher it learns from."""
    if not args.teacher:
        base_dir = resolve_base_model(args.base_model)
        model = MultiTaskModel.from_encoder_dir(base_dir, config.labels, config.head_dropout)
        return model, AutoTokenizer.from_pretrained(str(base_dir)), None
    teacher = Classifier.from_pretrained(args.teacher, runtime="torch")
    if teacher.config.labels != config.labels:
        raise ValueError(f"the teacher {args.teacher} predicts other labels than the taxonomy: retrain it first")
    model = MultiTaskModel.from_encoder_dir(Path(args.teacher) / ENCODER_DIR, config.labels, config.head_dropout)
    model.heads.load_state_dict(teacher.model.heads.state_dict())
    config.base_model = f"distilled from {teacher.config.model_version}"
    return model, teacher.tokenizer, teacher


def _unlabeled(args: TrainArgs, splits: dict, tokenizer) -> tuple[list[list[int]], list[list[int]]]:
    from datasets import Dataset

    texts = comment_like_texts([r.text for r in splits["train"]], int(args.unlabeled_ratio * len(splits["train"])),
                               args.seed)
    if not texts:
        return [], []
    ds = tokenize_dataset(Dataset.from_dict({"text": texts}), tokenizer, args.max_length)
    return ds["input_ids"], ds["sentence_ids"]


def _fine_tune(args: TrainArgs, config: ClassifierConfig, datasets: dict, splits: dict, progress: bool
               ) -> tuple[Classifier, int]:
    model, tokenizer, teacher = _start_model(args, config)
    if args.num_layers:
        _truncate_layers(model, args.num_layers)
    if args.freeze_embeddings:
        model.freeze_word_embeddings()
    if args.freeze_layers:
        model.freeze_lower_layers(args.freeze_layers)
    dev_targets = label_targets(datasets["dev"])
    train_ds = tokenize_dataset(datasets["train"], tokenizer, args.max_length)
    ids, sentence_ids = train_ds["input_ids"], train_ds["sentence_ids"]
    n_labeled = len(ids)
    soft = None
    if teacher is not None:  # unlabeled texts join after the labeled rows; only the teacher speaks for them
        more_ids, more_sentences = _unlabeled(args, splits, tokenizer)
        ids, sentence_ids = list(ids) + list(more_ids), list(sentence_ids) + list(more_sentences)
        with tqdm(total=len(ids), desc="the teacher labels the student's texts", disable=not progress,
                  unit="text") as bar:
            soft = teacher_logits(teacher.model, ids, sentence_ids, tokenizer.pad_token_id or 0, progress=bar)
        del teacher
    targets = label_targets(datasets["train"])
    loss_fn = MultiTaskLoss(targets, len(config.sentiments), len(config.urgency), config.urgency.index("urgent"))
    steps_per_epoch = len(_batches(ids, n_labeled, args.batch_size, random.Random(0)))
    optimizer = _optimizer(model, args)
    scheduler = BudgetSchedule(optimizer, int(args.warmup_ratio * steps_per_epoch * args.epochs),
                               steps_per_epoch * args.epochs)
    classifier = Classifier(model, tokenizer, config)
    ckpt = args.output_dir.with_name(args.output_dir.name + ".train") / CHECKPOINT_DIR
    state = {"epoch": 0, "best": -1.0, "bad_epochs": 0, "history": []}
    if args.resume and (ckpt / "state.json").exists():
        state = _load_checkpoint(ckpt, model, optimizer, scheduler)
        log.info("resumed from %s at epoch %d", ckpt, state["epoch"])
    best_path = ckpt.parent / "best.safetensors"
    started = time.monotonic()
    deadline = started + 60 * args.max_minutes if args.max_minutes else None
    pad = tokenizer.pad_token_id or 0
    frozen = _frozen_states(model, ids, args.freeze_layers, pad, progress) if args.freeze_layers else None
    started_steps, first_step = time.monotonic(), scheduler.steps_done
    while state["epoch"] < args.epochs and state["bad_epochs"] < args.patience:
        epoch = state["epoch"]
        model.train()
        batches = _batches(ids, n_labeled, args.batch_size, random.Random(args.seed + epoch))
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{args.epochs}", disable=not progress, unit="step")
        losses = []
        step_started = time.monotonic()
        for step, index in enumerate(bar):
            if deadline and time.monotonic() > deadline:
                break  # mid-epoch: this partial epoch is scored and kept like a whole one
            labeled = index[0] < n_labeled
            batch = collate(ids, sentence_ids, targets if labeled else {}, index, pad)
            if frozen is not None:  # only the layers above the frozen ones run, forward and backward
                logits = model.forward_from(_padded(frozen, index), batch["attention_mask"], batch["sentence_ids"],
                                            args.freeze_layers)
            else:
                logits = model(batch["input_ids"], batch["attention_mask"], batch["sentence_ids"])
            loss, parts = loss_fn(logits, batch) if labeled else (0.0, {"urgency": float("nan")})
            if soft is not None:
                loss = (1 - args.distill_weight) * loss + args.distill_weight * soft_loss(
                    logits, collate_soft(soft, index), args.distill_temperature)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if deadline and epoch == 0 and step == FIT_AFTER_STEPS:
                _fit_schedule(scheduler, step + 1, step_started, deadline)
            bar.set_postfix(loss=f"{loss.item():.3f}", urg=f"{parts['urgency']:.3f}")
        model.eval()
        # scored as it would be after calibration, on a copy: the shared config stays uncalibrated
        raw = evaluate(classifier, splits["dev"]).probs
        dev = calibrated_dev_scores(replace(config), splits["dev"], raw, dev_targets, args.target_urgent_recall,
                                    args.target_review_recall).metrics
        state["epoch"] += 1
        state["history"].append({"epoch": state["epoch"], PRIMARY_METRIC: dev[PRIMARY_METRIC],
                                 "train_loss": float(np.mean(losses)),
                                 "minutes": round((time.monotonic() - started) / 60, 2)})
        improved = dev[PRIMARY_METRIC] > state["best"]
        if improved:
            state["best"], state["bad_epochs"] = dev[PRIMARY_METRIC], 0
            best_path.parent.mkdir(parents=True, exist_ok=True)
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, best_path)
        else:
            state["bad_epochs"] += 1
        tqdm.write(f"epoch {state['epoch']}: dev {PRIMARY_METRIC} {dev[PRIMARY_METRIC]:.4f} "
                   f"(touchpoint micro-F1 {dev['touchpoint_micro_f1']:.3f}, sentiment macro-F1 "
                   f"{dev['sentiment_macro_f1']:.3f}, urgent recall {dev['urgent_recall']:.3f})"
                   + ("  best" if improved else ""))
        _save_checkpoint(ckpt, model, optimizer, scheduler, state)
        if deadline:  # the whole epoch's pace, dev scoring included, sets where the decay ends
            _fit_schedule(scheduler, scheduler.steps_done - first_step, started_steps, deadline)
        if deadline and time.monotonic() > deadline:
            tqdm.write(f"stopping: the {args.max_minutes}-minute budget is spent")
            break
    model.load_state_dict(load_file(best_path))
    return classifier, state["history"]
