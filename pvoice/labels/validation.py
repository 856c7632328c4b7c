"""Validation against the taxonomy and the contract: one labeled row of the corpus, or one human label set.

The corpus reader and the labels API both call these, so what training would refuse is refused at entry."""

from __future__ import annotations

from pvoice.labels.taxonomy import Taxonomy

MAX_TEXT_CHARS = 5000
SOURCES = ("written", "augmented")
LABEL_FIELDS = ("touchpoints", "aspects", "sentiment", "urgency", "urgent_reasons")
REQUIRED_FIELDS = ("id", "text", *LABEL_FIELDS)

Problems = list[tuple[str, str]]  # (field, message)


def _unknown(value, valid: list[str]) -> bool:
    return not (isinstance(value, str) and value in valid)


def _touchpoint_problems(tps, aspects, tax: Taxonomy) -> Problems:
    problems: Problems = []
    if not isinstance(tps, list) or not tps:
        problems.append(("touchpoints", "must be a non-empty list (at least one touchpoint)"))
        tps = []
    problems += [("touchpoints", f"unknown id {t!r}; valid: {', '.join(tax.touchpoint_ids)}")
                 for t in tps if _unknown(t, tax.touchpoint_ids)]
    if len(set(map(str, tps))) != len(tps):
        problems.append(("touchpoints", "repeated id"))
    if not isinstance(aspects, dict):
        return problems + [("aspects", "must be an object {touchpoint: sentiment}")]
    if set(aspects) != set(map(str, tps)):
        problems.append(("aspects", f"keys {sorted(aspects)} must equal touchpoints {sorted(map(str, tps))}"))
    problems += [(f"aspects.{k}", f"unknown sentiment {v!r}; valid: {', '.join(tax.sentiment_ids)}")
                 for k, v in aspects.items() if _unknown(v, tax.sentiment_ids)]
    return problems


def validate_labels(obj: dict, tax: Taxonomy) -> Problems:
    """Problems of the label fields (touchpoints, aspects, sentiment, urgency, urgent_reasons)."""
    missing = [(f, "missing") for f in LABEL_FIELDS if f not in obj]
    if missing:
        return missing
    problems = _touchpoint_problems(obj["touchpoints"], obj["aspects"], tax)
    for name, valid in (("sentiment", tax.sentiment_ids), ("urgency", tax.urgency_ids)):
        if _unknown(obj[name], valid):
            problems.append((name, f"unknown id {obj[name]!r}; valid: {', '.join(valid)}"))
    reasons = obj["urgent_reasons"]
    if not isinstance(reasons, list):
        return problems + [("urgent_reasons", "must be a list")]
    problems += [("urgent_reasons", f"unknown id {r!r}; valid: {', '.join(tax.reason_ids)}")
                 for r in reasons if _unknown(r, tax.reason_ids)]
    if bool(reasons) != (obj["urgency"] == "urgent"):
        problems.append(("urgent_reasons", "must be non-empty exactly when urgency is 'urgent'"))
    return problems


def validate_row(obj: dict, tax: Taxonomy, *, require_channel: bool = False, real_text: bool = False) -> Problems:
    """Problems of a whole corpus row: id, text, channel and source besides the labels. `real_text`: an
    evaluation set of real comments, whose `source` is the page each was cut from (never training data)."""
    missing = [(f, "missing") for f in REQUIRED_FIELDS if f not in obj]
    if require_channel and "channel" not in obj:
        missing.append(("channel", "missing"))
    if missing:
        return missing
    problems: Problems = []
    text = obj["text"]
    if not isinstance(text, str) or not text.strip():
        problems.append(("text", "must be a non-empty string"))
    elif len(text) > MAX_TEXT_CHARS:
        problems.append(("text", f"{len(text)} characters; at most {MAX_TEXT_CHARS}"))
    if not isinstance(obj["id"], str) or not obj["id"]:
        problems.append(("id", "must be a non-empty string"))
    problems += validate_labels(obj, tax)
    channel = obj.get("channel")
    if channel is not None and _unknown(channel, tax.channel_ids):
        problems.append(("channel", f"unknown id {channel!r}; valid: {', '.join(tax.channel_ids)}"))
    if obj.get("pair") is not None and not (isinstance(obj["pair"], str) and obj["pair"]):
        problems.append(("pair", "must be a non-empty string shared by the rows of one minimal pair"))
    source = obj.get("source", "written")
    if real_text and isinstance(source, str) and source.startswith(("http://", "https://")):
        pass
    elif source not in SOURCES:
        hint = " (real text with a source URL is for evaluation only)" if str(source).startswith("http") else ""
        problems.append(("source", f"unknown {source!r}; valid: {', '.join(SOURCES)}{hint}"))
    return problems
