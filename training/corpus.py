"""Reading and validating the labeled corpus (`data/comments/*.jsonl`) against the taxonomy."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pvoice.labels import SOURCES, Taxonomy, load_taxonomy, validate_row


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
    # a minimal pair: rows sharing this tag say the same thing with and without what makes it urgent
    pair: str | None = None
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
        if self.pair:
            row["pair"] = self.pair
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


def parse_line(raw: bytes, *, file: str, line: int, tax: Taxonomy, require_channel: bool = True,
               real_text: bool = False) -> tuple[CorpusRow | None, list[RowError]]:
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
    problems = validate_row(obj, tax, require_channel=require_channel, real_text=real_text)
    if problems:
        return None, [err(f, m) for f, m in problems]
    row = CorpusRow(
        id=obj["id"], text=obj["text"], touchpoints=list(obj["touchpoints"]), aspects=dict(obj["aspects"]),
        sentiment=obj["sentiment"], urgency=obj["urgency"], urgent_reasons=list(obj["urgent_reasons"]),
        channel=obj.get("channel"), source=obj.get("source", "written"),
        derived_from=list(obj.get("derived_from", [])), pair=obj.get("pair") or None, file=file, line=line,
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


def iter_rows(paths: Iterable[str | Path], tax: Taxonomy | None = None, *, require_channel: bool = True,
              real_text: bool = False) -> Iterator[tuple[CorpusRow | None, list[RowError]]]:
    tax = tax or load_taxonomy()
    for path in corpus_files(paths):
        with open(path, "rb") as fh:
            for n, raw in enumerate(fh, 1):
                if raw.strip():
                    yield parse_line(raw, file=str(path), line=n, tax=tax, require_channel=require_channel,
                                     real_text=real_text)


def read_corpus(paths: Iterable[str | Path], tax: Taxonomy | None = None, *, require_channel: bool = True,
                real_text: bool = False) -> list[CorpusRow]:
    """All rows of the given files/directories; raises CorpusError naming every broken row. `real_text`
    admits rows whose source is a URL: labeled real comments, for evaluation only."""
    rows, errors = [], []
    for row, errs in iter_rows(paths, tax, require_channel=require_channel, real_text=real_text):
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
