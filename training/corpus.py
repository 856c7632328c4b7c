"""Reading and validating the labeled corpus (`data/comments/*.jsonl`) against the taxonomy."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from model.taxonomy import Taxonomy, load_taxonomy

MAX_TEXT_CHARS = 5000
SOURCES = ("written", "augmented")
REQUIRED_FIELDS = ("id", "text", "touchpoints", "aspects", "sentiment", "urgency", "urgent_reasons")


@dataclass(frozen=True)
class CorpusRow:
    id: str
    text: str
    touchpoints: list[str]
    aspects: dict[str, str]
    sentiment: str
    urgency: str
    urgent_reasons: list[str]
    channel: str | None = None
    source: str = "written"
    derived_from: list[str] = field(default_factory=list)
    file: str = ""
    line: int = 0

    def to_json(self) -> dict:
        row = {
            "id": self.id, "text": self.text, "touchpoints": self.touchpoints, "aspects": self.aspects,
            "sentiment": self.sentiment, "urgency": self.urgency, "urgent_reasons": self.urgent_reasons,
            "channel": self.channel, "source": self.source,
        }
        if self.derived_from:
            row["derived_from"] = self.derived_from
        return row


@dataclass(frozen=True)
class RowError:
    """One broken field of one row, located so that a person can fix it."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: field '{self.field}': {self.message}"


class CorpusError(ValueError):
    def __init__(self, errors: list[RowError]):
        self.errors = errors
        shown = "\n".join(str(e) for e in errors[:20])
        more = f"\n... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} invalid corpus row(s):\n{shown}{more}")


def _one_of(value, valid: list[str]) -> bool:
    return isinstance(value, str) and value in valid


def _validate_labels(obj: dict, tax: Taxonomy, require_channel: bool) -> list[tuple[str, str]]:
    """(field, message) for every problem of an already-parsed object."""
    problems: list[tuple[str, str]] = []
    missing = [f for f in REQUIRED_FIELDS if f not in obj]
    if require_channel and "channel" not in obj:
        missing.append("channel")
    problems += [(f, "missing") for f in missing]
    if missing:
        return problems
    text = obj["text"]
    if not isinstance(text, str) or not text.strip():
        problems.append(("text", "must be a non-empty string"))
    elif len(text) > MAX_TEXT_CHARS:
        problems.append(("text", f"{len(text)} characters; at most {MAX_TEXT_CHARS}"))
    if not isinstance(obj["id"], str) or not obj["id"]:
        problems.append(("id", "must be a non-empty string"))
    tps = obj["touchpoints"]
    if not isinstance(tps, list) or not tps:
        problems.append(("touchpoints", "must be a non-empty list"))
        tps = []
    for t in tps:
        if not _one_of(t, tax.touchpoint_ids):
            problems.append(("touchpoints", f"unknown id {t!r}; valid: {', '.join(tax.touchpoint_ids)}"))
    if len(set(map(str, tps))) != len(tps):
        problems.append(("touchpoints", "repeated id"))
    aspects = obj["aspects"]
    if not isinstance(aspects, dict):
        problems.append(("aspects", "must be an object {touchpoint: sentiment}"))
    else:
        if set(aspects) != set(map(str, tps)):
            problems.append(("aspects", f"keys {sorted(aspects)} must equal touchpoints {sorted(map(str, tps))}"))
        for key, value in aspects.items():
            if not _one_of(value, tax.sentiment_ids):
                problems.append((f"aspects.{key}", f"unknown sentiment {value!r}; valid: {', '.join(tax.sentiment_ids)}"))
    if not _one_of(obj["sentiment"], tax.sentiment_ids):
        problems.append(("sentiment", f"unknown id {obj['sentiment']!r}; valid: {', '.join(tax.sentiment_ids)}"))
    if not _one_of(obj["urgency"], tax.urgency_ids):
        problems.append(("urgency", f"unknown id {obj['urgency']!r}; valid: {', '.join(tax.urgency_ids)}"))
    reasons = obj["urgent_reasons"]
    if not isinstance(reasons, list):
        problems.append(("urgent_reasons", "must be a list"))
    else:
        for r in reasons:
            if not _one_of(r, tax.reason_ids):
                problems.append(("urgent_reasons", f"unknown id {r!r}; valid: {', '.join(tax.reason_ids)}"))
        if bool(reasons) != (obj["urgency"] == "urgent"):
            problems.append(("urgent_reasons", "must be non-empty exactly when urgency is 'urgent'"))
    channel = obj.get("channel")
    if channel is not None and not _one_of(channel, tax.channel_ids):
        problems.append(("channel", f"unknown id {channel!r}; valid: {', '.join(tax.channel_ids)}"))
    if obj.get("source", "written") not in SOURCES:
        problems.append(("source", f"unknown {obj.get('source')!r}; valid: {', '.join(SOURCES)}"))
    return problems


def parse_line(raw: bytes, *, file: str, line: int, tax: Taxonomy, require_channel: bool = True
               ) -> tuple[CorpusRow | None, list[RowError]]:
    def err(f: str, m: str) -> RowError:
        return RowError(file, line, f, m)

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [err("<line>", f"not valid UTF-8 ({exc.reason} at byte {exc.start})")]
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [err("<line>", f"malformed JSON: {exc.msg} at column {exc.colno}")]
    if not isinstance(obj, dict):
        return None, [err("<line>", "expected a JSON object")]
    problems = _validate_labels(obj, tax, require_channel)
    if problems:
        return None, [err(f, m) for f, m in problems]
    row = CorpusRow(
        id=obj["id"], text=obj["text"], touchpoints=list(obj["touchpoints"]), aspects=dict(obj["aspects"]),
        sentiment=obj["sentiment"], urgency=obj["urgency"], urgent_reasons=list(obj["urgent_reasons"]),
        channel=obj.get("channel"), source=obj.get("source", "written"),
        derived_from=list(obj.get("derived_from", [])), file=file, line=line,
    )
    return row, []


def corpus_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories to their `*.jsonl` files (recursively), in a stable order."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.rglob("*.jsonl"))
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"no such corpus file or directory: {p}")
    return files


def iter_rows(paths: Iterable[str | Path], tax: Taxonomy | None = None, *, require_channel: bool = True
              ) -> Iterator[tuple[CorpusRow | None, list[RowError]]]:
    tax = tax or load_taxonomy()
    for path in corpus_files(paths):
        with open(path, "rb") as fh:
            for n, raw in enumerate(fh, 1):
                if raw.strip():
                    yield parse_line(raw, file=str(path), line=n, tax=tax, require_channel=require_channel)


def read_corpus(paths: Iterable[str | Path], tax: Taxonomy | None = None, *, require_channel: bool = True
                ) -> list[CorpusRow]:
    """All rows of the given files/directories; raises CorpusError naming every broken row."""
    rows, errors = [], []
    for row, errs in iter_rows(paths, tax, require_channel=require_channel):
        errors += errs
        if row is not None:
            rows.append(row)
    seen: dict[str, CorpusRow] = {}
    for row in rows:
        if row.id in seen:
            first = seen[row.id]
            errors.append(RowError(row.file, row.line, "id", f"duplicate id {row.id!r} (first at {first.file}:{first.line})"))
        seen[row.id] = row
    if errors:
        raise CorpusError(errors)
    return rows
