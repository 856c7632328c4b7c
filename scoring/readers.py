"""Chunked readers of survey exports: CSV/TSV, XLSX, JSONL and Parquet, never the whole file at once."""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from pvoice.scoring.encoding import check_encoding, count_lines, detect_encoding
from pvoice.scoring.errors import ScoringError, UnsupportedFormat

FORMATS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet",
}
HINTS = {
    ".xls": "save it as .xlsx (Excel: 另存为 → Excel 工作簿) or .csv",
    ".json": "write one JSON object per line and name the file .jsonl",
    ".txt": "name it .tsv if it is tab-separated (Excel's 'Unicode text'), or .csv",
}
MALFORMED = "malformed_row"
# A row as read: its values in column order, what the reader found wrong with it, and (JSONL) the object.
RawRow = tuple[list[Any], str | None, dict | None]


def format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    hint = HINTS.get(suffix, f"supported: {', '.join(sorted(FORMATS))}")
    raise UnsupportedFormat(f"{path.name}: cannot read or write {suffix or 'files without an extension'}; {hint}")


class Chunk:
    """Consecutive input rows; `start` is the index of the first one in the whole input."""

    def __init__(self, start: int, columns: list[str], rows: list[list[Any]] | None = None,
                 problems: list[str | None] | None = None, originals: list[dict] | None = None, table=None):
        self.start, self.columns = start, columns
        self.table = table  # Parquet: the Arrow rows, written back to Parquet as they were
        self.originals = originals  # JSONL: each object as read, written back to JSONL as it was
        self._rows = rows
        n = len(rows) if rows is not None else table.num_rows
        self.problems = problems if problems is not None else [None] * n

    def __len__(self) -> int:
        return len(self.problems)

    @cached_property
    def rows(self) -> list[list[Any]]:
        if self._rows is not None:
            return self._rows
        columns = [self.table.column(i).to_pylist() for i in range(self.table.num_columns)]
        return [list(values) for values in zip(*columns)] if columns else [[] for _ in range(len(self))]

    def column(self, index: int) -> list[Any]:
        if self._rows is None:
            return self.table.column(index).to_pylist()
        return [row[index] for row in self._rows]


class Source:
    """An input file: its columns, its number of rows when cheap to know, and its rows in chunks."""

    format: str
    columns: list[str]
    total: int | None = None
    encoding: str | None = None

    def __init__(self, path: Path):
        self.path = path
        self.blank_rows = 0  # blank lines and empty spreadsheet rows: not records, not in the output

    def chunks(self, size: int, skip: int = 0) -> Iterator[Chunk]:
        records = itertools.islice(self._records(), skip, None)
        start = skip
        while batch := list(itertools.islice(records, size)):
            yield Chunk(start, self.columns, rows=[r[0] for r in batch], problems=[r[1] for r in batch],
                        originals=[r[2] for r in batch] if self.format == "jsonl" else None)
            start += len(batch)

    def _records(self) -> Iterator[RawRow]:
        raise NotImplementedError


def _fit_width(values: list[Any], width: int, joiner: str) -> tuple[list[Any], str | None]:
    """Pad a short row; keep a long row's extra fields, joined into its last field, and flag it."""
    if len(values) > width:
        extra = values[width:]
        if all(v is None or v == "" for v in extra):
            return values[:width], None
        tail = joiner.join("" if v is None else str(v) for v in values[width - 1:])
        return values[:width - 1] + [tail], MALFORMED
    if len(values) < width:
        return values + [None] * (width - len(values)), None
    return values, None


class CsvSource(Source):
    DELIMITERS = (",", "\t", ";", "|")

    def __init__(self, path: Path, fmt: str, encoding: str | None = None):
        super().__init__(path)
        self.format = fmt
        self.encoding = check_encoding(encoding) if encoding else detect_encoding(path)
        with self._open() as f:
            first_line = f.readline()
        self.delimiter = self._sniff(first_line, "\t" if fmt == "tsv" else ",")
        with self._open() as f:
            header = next(csv.reader(f, delimiter=self.delimiter), None)
        if not header:
            raise ScoringError(f"{path} is empty: expected a header row", code="empty_input")
        self.columns = header
        if self.encoding != "utf-16":  # newlines are two bytes there; the bar then shows no total
            self.total = max(count_lines(path) - 1, 0)

    def _sniff(self, line: str, default: str) -> str:
        counts = {d: line.count(d) for d in self.DELIMITERS}
        best = max(counts, key=counts.get)
        return default if counts[default] or not counts[best] else best

    def _open(self):
        # errors="replace": a broken byte becomes U+FFFD and flags its row instead of stopping the run
        return open(self.path, encoding=self.encoding, errors="replace", newline="")

    def _records(self) -> Iterator[RawRow]:
        csv.field_size_limit(2**31 - 1)  # a long complaint is still one field
        with self._open() as f:
            reader = csv.reader(f, delimiter=self.delimiter)
            next(reader, None)
            for fields in reader:
                if not any(field.strip() for field in fields):
                    self.blank_rows += 1
                    continue
                values, problem = _fit_width(fields, len(self.columns), self.delimiter)
                yield ["" if v is None else v for v in values], problem, None


class JsonlSource(Source):
    format = "jsonl"

    def __init__(self, path: Path, encoding: str | None = None):
        super().__init__(path)
        self.encoding = check_encoding(encoding) if encoding else detect_encoding(path)
        # One pass for the union of keys (later rows may add some) and the row count.
        seen: dict[str, None] = {}
        total = 0
        for obj in self._objects():
            total += 1
            if isinstance(obj, dict):
                seen.update(dict.fromkeys(obj))
        self.columns, self.total = list(seen), total

    def _objects(self) -> Iterator[Any]:
        with open(self.path, encoding=self.encoding, errors="replace") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    yield None

    def _records(self) -> Iterator[RawRow]:
        for obj in self._objects():
            if isinstance(obj, dict):
                yield [obj.get(c) for c in self.columns], None, obj
            else:
                yield [None] * len(self.columns), MALFORMED, {}


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _open_workbook(path: Path):
    import zipfile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        # an empty file, another format renamed to .xlsx, or a damaged workbook
        raise ScoringError(f"{path}: not a readable XLSX workbook ({_first_line(exc)}) — open it in Excel or "
                           "WPS and save it again as .xlsx, or export CSV", code="unreadable_input") from None


class XlsxSource(Source):
    format = "xlsx"

    def __init__(self, path: Path):
        super().__init__(path)
        wb = _open_workbook(path)
        try:
            ws = wb.worksheets[0]
            header = next(ws.iter_rows(max_row=1, values_only=True), None)
            max_row = ws.max_row
        finally:
            wb.close()
        names = ["" if v is None else str(v) for v in (header or ())]
        while names and names[-1] == "":
            names.pop()
        if not names:
            raise ScoringError(f"{path}: the first sheet has no header row", code="empty_input")
        self.columns = names
        self.total = max(max_row - 1, 0) if max_row else None  # from the sheet's dimension tag

    def _records(self) -> Iterator[RawRow]:
        wb = _open_workbook(self.path)
        try:
            for cells in wb.worksheets[0].iter_rows(min_row=2, values_only=True):
                if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
                    self.blank_rows += 1
                    continue
                values, problem = _fit_width(list(cells), len(self.columns), " ")
                yield values, problem, None
        finally:
            wb.close()


class ParquetSource(Source):
    format = "parquet"

    def __init__(self, path: Path):
        super().__init__(path)
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
        except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise ScoringError(f"{path}: not a readable Parquet file ({_first_line(exc)}) — export it again, "
                               "or save it as CSV or XLSX", code="unreadable_input") from None
        self.columns = list(self._file.schema_arrow.names)
        self.total = self._file.metadata.num_rows

    def chunks(self, size: int, skip: int = 0) -> Iterator[Chunk]:
        import pyarrow as pa

        meta = self._file.metadata
        first, before = 0, 0  # row groups wholly before `skip` are not read at all
        while first < meta.num_row_groups and before + meta.row_group(first).num_rows <= skip:
            before += meta.row_group(first).num_rows
            first += 1
        batches = self._file.iter_batches(batch_size=size, row_groups=list(range(first, meta.num_row_groups)))
        pending, drop, start = [], skip - before, skip
        for batch in batches:
            if drop:
                cut = min(drop, batch.num_rows)
                batch, drop = batch.slice(cut), drop - cut
            pending.append(batch)
            while sum(b.num_rows for b in pending) >= size:
                table = pa.Table.from_batches(pending)
                yield Chunk(start, self.columns, table=table.slice(0, size))
                start += size
                rest = table.slice(size)
                pending = rest.to_batches() if rest.num_rows else []
        if pending and sum(b.num_rows for b in pending):
            table = pa.Table.from_batches(pending)
            yield Chunk(start, self.columns, table=table)


def open_source(path: Path, encoding: str | None = None) -> Source:
    path = Path(path)
    fmt = format_of(path)
    if not path.is_file():
        raise ScoringError(f"input file not found: {path}", code="input_not_found")
    if fmt in ("csv", "tsv"):
        return CsvSource(path, fmt, encoding)
    if fmt == "jsonl":
        return JsonlSource(path, encoding)
    if fmt == "xlsx":
        return XlsxSource(path)
    return ParquetSource(path)
