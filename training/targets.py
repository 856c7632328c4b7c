"""The classifier issue's quality targets, checked against measured metrics."""

from __future__ import annotations

TARGETS = {
    "touchpoint_micro_f1": 0.90,
    "touchpoint_macro_f1": 0.85,
    "sentiment_macro_f1": 0.90,
    "urgent_recall": 0.95,
    "urgent_precision": 0.80,
    "aspect_accuracy": 0.88,
}


def missed_targets(metrics: dict) -> dict[str, tuple[float, float]]:
    return {k: (metrics[k], t) for k, t in TARGETS.items() if metrics[k] < t}


def render_targets(metrics: dict) -> str:
    lines = ["targets:"]
    for key, target in TARGETS.items():
        ok = metrics[key] >= target
        lines.append(f"  [{'met' if ok else 'MISSED'}] {key} {metrics[key]:.3f} (target >= {target})")
    return "\n".join(lines)
