"""The evaluation report: markdown with confusion matrices, reliability diagrams and the worst errors."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from pvoice.training.card import metrics_table  # noqa: E402
from pvoice.training.evaluation import Evaluation  # noqa: E402

WORST_ERRORS = 25


def plot_confusion(gold: list[str], pred: list[str], labels: list[str], title: str, path: Path) -> np.ndarray:
    cm = confusion_matrix(gold, pred, labels=labels)
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, cm[i, j], ha="center", va="center", color="black" if cm[i, j] < cm.max() / 2 else "white")
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return cm


def plot_reliability(confidence: np.ndarray, correct: np.ndarray, title: str, path: Path, bins: int = 10) -> None:
    edges = np.linspace(0, 1, bins + 1)
    centers, accuracy, counts = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            centers.append((lo + hi) / 2)
            accuracy.append(correct[in_bin].mean())
            counts.append(int(in_bin.sum()))
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.bar(centers, accuracy, width=1 / bins * 0.9, alpha=0.7, label="accuracy per confidence bin")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def worst_errors(ev: Evaluation, n: int) -> list[str]:
    """Wrong urgency or sentiment decisions, most confident first: where the model misleads a person."""
    scored = []
    for row, pred in zip(ev.rows, ev.predictions):
        wrong = [f for f in ("urgency", "sentiment") if getattr(row, f) != getattr(pred, f)]
        if set(row.touchpoints) != set(pred.touchpoints):
            wrong.append("touchpoints")
        if wrong:
            conf = max(pred.urgency_probabilities[pred.urgency] if "urgency" in wrong else 0,
                       pred.sentiment_probabilities[pred.sentiment] if "sentiment" in wrong else 0)
            missed_urgent = row.urgency == "urgent" and pred.urgency != "urgent"
            scored.append((missed_urgent, conf, row, pred, wrong))
    scored.sort(key=lambda x: (x[0], x[1]), reverse=True)
    lines = ["| text | gold | predicted | wrong |", "| --- | --- | --- | --- |"]
    for _, _, row, pred, wrong in scored[:n]:
        text = row.text.replace("|", "¦").replace("\n", " ")
        text = text if len(text) <= 120 else text[:117] + "…"
        gold = f"{row.urgency}/{row.sentiment} {','.join(row.touchpoints)}"
        got = (f"{pred.urgency} ({pred.urgency_probabilities[pred.urgency]:.2f})/{pred.sentiment} "
               f"{','.join(pred.touchpoints)}")
        lines.append(f"| {text} | {gold} | {got} | {', '.join(wrong)} |")
    return lines


def write_report(ev: Evaluation, directory: Path, title: str = "Evaluation") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    labels = ev.predictions[0].sentiment_probabilities.keys() if ev.predictions else []
    sent_labels, urg_labels = list(labels), list(ev.predictions[0].urgency_probabilities) if ev.predictions else []
    gold_s, pred_s = [r.sentiment for r in ev.rows], [p.sentiment for p in ev.predictions]
    gold_u, pred_u = [r.urgency for r in ev.rows], [p.urgency for p in ev.predictions]
    plot_confusion(gold_s, pred_s, sent_labels, "overall sentiment", directory / "confusion_sentiment.png")
    plot_confusion(gold_u, pred_u, urg_labels, "urgency", directory / "confusion_urgency.png")
    for head, gold, pred in (("sentiment", gold_s, pred_s), ("urgency", gold_u, pred_u)):
        conf = np.array([getattr(p, f"{head}_probabilities")[getattr(p, head)] for p in ev.predictions])
        plot_reliability(conf, np.array(gold) == np.array(pred), f"{head} reliability", directory / f"reliability_{head}.png")
    m = ev.metrics
    per_label = m["touchpoint_f1_per_label"]
    lines = [
        f"# {title}", "", metrics_table({"this model": m}), "",
        "## Touchpoint F1", "", "| touchpoint | F1 |", "| --- | ---: |",
        *[f"| {k} | {v:.3f} |" for k, v in per_label.items()], "",
        "## Confusion matrices", "", "![sentiment](confusion_sentiment.png) ![urgency](confusion_urgency.png)", "",
        "## Reliability", "", "![sentiment](reliability_sentiment.png) ![urgency](reliability_urgency.png)", "",
        f"## Worst errors (missed urgent first, then most confident)", "", *worst_errors(ev, WORST_ERRORS), "",
    ]
    path = directory / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
