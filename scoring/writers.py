"""Streaming writers: each chunk is written as it is scored, and `commit` makes it durable.

`commit()` returns what a resumed run needs to find that point again:
- CSV, TSV, JSONL: one file, appended to; the byte offset after the last committed chunk. A resumed run
  truncates the file there, so a chunk half-written when the run stopped is written again, once.
- XLSX: an xlsx cannot be appended to, so rows go to a staging file `OUTPUT.rows.partial` (JSON lines,
  committed by byte offset like JSONL) and the workbook is written from it at the end with openpyxl's
  write-only mode.
- Parquet: one part file per chunk in `OUTPUT.parts/`, committed by count; at the end their row groups are
  copied into OUTPUT with one ParquetWriter and the parts are removed.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

from pvoice.scoring.errors import ScoringError
from pvoice.scoring.readers import Chunk, format_of

XLSX_MAX_ROWS = 1_048_576  # a sheet's limit, header included


def _fsync(f) -> None:
    f.flush()
    os.fsync(f.fileno())


def _text(value: Any) -> str:
    """A cell as CSV text: strings unchanged, None empty, structures as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


# OWASP's CSV-injection advice: a cell that starts with one of these is read as a formula by spreadsheets
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """A text cell that a spreadsheet shows as text: a leading formula character is escaped with a quote."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def xlsx_cell(ws, value: Any):
    """A value for a write-only sheet's row: a text becomes a cell stored as text, never as a formula, even when
    it starts with "=" (CSV/formula injection); control characters, which xlsx forbids, are dropped (the one
    change made to a text). Other values go in as they are."""
    if not isinstance(value, str):
        return value
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    out = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    out.data_type = "s"
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


class Sink:
    """Writes the input columns unchanged, then the appended ones."""

    def __init__(self, path: Path, columns: list[str], appended: list[tuple[str, str]]):
        self.path, self.columns, self.appended = path, columns, appended
        self.names = list(columns) + [name for name, _ in appended]

    def write(self, chunk: Chunk, scores: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def commit(self) -> dict:
        raise NotImplementedError

    def finish(self) -> None:
        """Turn the committed rows into the final OUTPUT."""

    def close(self) -> None:
        """Release files, leaving the committed state for a resumed run."""


class _AppendSink(Sink):
    """One byte stream, appended to chunk by chunk and committed by offset."""

    target: Path

    def open(self, resume: dict | None) -> "_AppendSink":
        if resume is None:
            self.file = open(self.target, "wb")
            self._start()
        else:
            self.file = open(self.target, "r+b")
            size = self.file.seek(0, os.SEEK_END)
            if size < resume["offset"]:
                raise ScoringError(f"{self.target} is shorter than its progress file says; start over without "
                                   "--resume", code="resume_mismatch")
            self.file.truncate(resume["offset"])  # drops what a stopped run wrote after its last commit
            self.file.seek(resume["offset"])
        return self

    def _start(self) -> None:
        pass

    def commit(self) -> dict:
        _fsync(self.file)
        return {"offset": self.file.tell()}

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()

    def finish(self) -> None:
        self.close()


class CsvSink(_AppendSink):
    """UTF-8 with a BOM, so that Excel opens Chinese text correctly; tab-separated for .tsv."""

    def __init__(self, path, columns, appended, delimiter: str):
        super().__init__(path, columns, appended)
        self.target, self.delimiter = path, delimiter

    def _encode(self, rows: list[list[str]]) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, delimiter=self.delimiter, lineterminator="\r\n").writerows(rows)
        return buf.getvalue().encode("utf-8")

    def _start(self) -> None:
        self.file.write(b"\xef\xbb\xbf" + self._encode([self.names]))

    def write(self, chunk, scores) -> None:
        extra = [name for name, _ in self.appended]
        rows = [[csv_safe(_text(v)) for v in row] + [csv_safe(_text(s[n])) for n in extra]
                for row, s in zip(chunk.rows, scores)]
        self.file.write(self._encode(rows))


class JsonlSink(_AppendSink):
    """One object per row: the input object as read (JSONL input) or the input columns, then the scores."""

    def __init__(self, path, columns, appended):
        super().__init__(path, columns, appended)
        self.target = path
        if len(set(columns)) != len(columns) or "" in columns:
            raise ScoringError("JSONL output needs unique, non-empty column names; the input has "
                               f"{columns}. Write CSV or XLSX instead", code="bad_column_names")

    def write(self, chunk, scores) -> None:
        originals = chunk.originals or [dict(zip(self.columns, row)) for row in chunk.rows]
        lines = [json.dumps({**obj, **s}, ensure_ascii=False, default=_json_default) + "\n"
                 for obj, s in zip(originals, scores)]
        self.file.write("".join(lines).encode("utf-8"))


class XlsxSink(_AppendSink):
    def __init__(self, path, columns, appended):
        super().__init__(path, columns, appended)
        self.target = path.with_name(path.name + ".rows.partial")

    def open(self, resume):
        super().open(resume)
        self.rows = (resume or {}).get("rows", 0)
        return self

    def write(self, chunk, scores) -> None:
        self.rows += len(chunk)
        if self.rows >= XLSX_MAX_ROWS:
            raise ScoringError(f"more than {XLSX_MAX_ROWS - 1:,} rows do not fit in one Excel sheet; write .csv or "
                               ".parquet instead", code="too_many_rows")
        extra = [name for name, _ in self.appended]
        lines = [json.dumps([_staged(v) for v in row] + [s[n] for n in extra], ensure_ascii=False) + "\n"
                 for row, s in zip(chunk.rows, scores)]
        self.file.write("".join(lines).encode("utf-8"))

    def commit(self) -> dict:
        return {**super().commit(), "rows": self.rows}

    def finish(self) -> None:
        from openpyxl import Workbook

        self.close()
        wb = Workbook(write_only=True)
        ws = wb.create_sheet()

        def cell(value):
            return xlsx_cell(ws, value)

        ws.append([cell(v) for v in self.names])
        with open(self.target, encoding="utf-8") as staged:
            for line in staged:
                ws.append([cell(v) for v in map(_unstaged, json.loads(line))])
        tmp = self.path.with_name(self.path.name + ".tmp")
        wb.save(tmp)
        os.replace(tmp, self.path)
        self.target.unlink()


_STAGED_TYPES = {"datetime": dt.datetime, "date": dt.date, "time": dt.time}


def _staged(value: Any) -> Any:
    """A cell for the JSON staging file, dates tagged so that they come back as dates."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        kind = "datetime" if isinstance(value, dt.datetime) else type(value).__name__
        return {"$" + kind: value.isoformat()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return _text(value)


def _unstaged(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        (key, iso), = value.items()
        kind = _STAGED_TYPES.get(key.lstrip("$"))
        if kind is not None:
            return kind.fromisoformat(iso)
    return value


class ParquetSink(Sink):
    def __init__(self, path, columns, appended):
        super().__init__(path, columns, appended)
        self.parts_dir = path.with_name(path.name + ".parts")
        self.schema = None

    def open(self, resume: dict | None) -> "ParquetSink":
        import pyarrow.parquet as pq

        if resume is None:
            shutil.rmtree(self.parts_dir, ignore_errors=True)
            self.parts_dir.mkdir(parents=True)
        self.parts = (resume or {}).get("parts", 0)
        for stale in self.parts_dir.glob("part-*"):  # written after the last commit
            if int(stale.name.split("-")[1].split(".")[0]) >= self.parts:
                stale.unlink()
        if self.parts:
            self.schema = pq.read_schema(self._part(0))
        return self

    def _part(self, index: int) -> Path:
        return self.parts_dir / f"part-{index:06d}.parquet"

    def write(self, chunk, scores) -> None:
        import pyarrow.parquet as pq

        table = self._table(chunk, scores)
        tmp = self.parts_dir / f"part-{self.parts:06d}.tmp"
        pq.write_table(table, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self._part(self.parts))
        self.parts += 1

    def _table(self, chunk: Chunk, scores: list[dict]):
        import pyarrow as pa

        base = chunk.table if chunk.table is not None else self._input_table(chunk)
        kinds = {"str": pa.string(), "float": pa.float64()}
        for name, kind in self.appended:
            base = base.append_column(pa.field(name, kinds[kind]), pa.array([s[name] for s in scores], kinds[kind]))
        if self.schema is None:
            self.schema = base.schema
        elif base.schema != self.schema:
            base = _cast(base, self.schema)
        return base

    def _input_table(self, chunk: Chunk):
        import pyarrow as pa

        arrays = []
        for i, name in enumerate(self.columns):
            values = [row[i] for row in chunk.rows]
            target = self.schema.field(i).type if self.schema is not None else None
            arrays.append(_arrow_column(name, values, target))
        return pa.Table.from_arrays(arrays, names=list(self.columns))

    def commit(self) -> dict:
        return {"parts": self.parts}

    def finish(self) -> None:
        import pyarrow.parquet as pq

        tmp = self.path.with_name(self.path.name + ".tmp")
        schema = self.schema if self.schema is not None else self._empty_schema()
        with pq.ParquetWriter(tmp, schema) as writer:
            for index in range(self.parts):
                part = pq.ParquetFile(self._part(index))
                for group in range(part.num_row_groups):
                    writer.write_table(part.read_row_group(group))
        os.replace(tmp, self.path)
        shutil.rmtree(self.parts_dir)

    def _empty_schema(self):
        import pyarrow as pa

        kinds = {"str": pa.string(), "float": pa.float64()}
        return pa.schema([pa.field(c, pa.string()) for c in self.columns]
                         + [pa.field(n, kinds[k]) for n, k in self.appended])


def _arrow_column(name: str, values: list, target=None):
    """An Arrow column of a chunk: its own type, text when the cells mix types, the first chunk's type after."""
    import pyarrow as pa

    if target is not None:
        try:
            return pa.array(values, target)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            if pa.types.is_string(target):
                return pa.array([None if v is None else _text(v) for v in values], pa.string())
            raise ScoringError(f"column {name!r} changes type between chunks ({exc}); write CSV, JSONL or XLSX "
                               "instead, or export the column as text", code="mixed_types") from exc
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        array = pa.array([None if v is None else _text(v) for v in values], pa.string())
    return array.cast(pa.string()) if pa.types.is_null(array.type) else array


def _cast(table, schema):
    try:
        return table.cast(schema)
    except Exception as exc:  # noqa: BLE001 - Arrow raises several kinds; all mean the same to the user
        raise ScoringError(f"a chunk's columns do not match the first chunk's ({exc}); write CSV or JSONL instead",
                           code="mixed_types") from exc


def open_sink(path: Path, columns: list[str], appended: list[tuple[str, str]], resume: dict | None) -> Sink:
    fmt = format_of(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("csv", "tsv"):
        sink = CsvSink(path, columns, appended, delimiter="\t" if fmt == "tsv" else ",")
    elif fmt == "jsonl":
        sink = JsonlSink(path, columns, appended)
    elif fmt == "xlsx":
        sink = XlsxSink(path, columns, appended)
    else:
        sink = ParquetSink(path, columns, appended)
    return sink.open(resume)
