"""The classifier issue's quality targets, on the test split and on real text, checked against metrics."""

from __future__ import annotations

TEST_TARGETS = {
    "touchpoint_micro_f1": 0.90,
    "aspect_accuracy": 0.88,
    "sentiment_macro_f1": 0.92,
    "urgent_recall": 0.95,
    "urgent_precision": 0.85,
    "reason_micro_f1": 0.85,
}
REAL_TARGETS = {
    "touchpoint_micro_f1": 0.85,
    "aspect_accuracy": 0.88,
    "sentiment_macro_f1": 0.85,
    "urgent_recall": 0.95,
    "urgent_precision": 0.70,
    "reason_micro_f1": 0.75,
}


def targets_for(real: bool) -> dict[str, float]:
    return REAL_TARGETS if real else TEST_TARGETS


def render_targets(metrics: dict, real: bool = False) -> str:
    lines = [f"targets: {'real text' if real else 'test split'}"]
    for key, target in targets_for(real).items():
        ok = metrics[key] >= target
        lines.append(f"  [{'met' if ok else 'MISSED'}] {key} {metrics[key]:.3f} (target >= {target})")
    return "\n".join(lines)
