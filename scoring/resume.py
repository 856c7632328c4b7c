"""The progress file beside an unfinished output: what has been committed, and which job it belongs to.

`OUTPUT.progress.json` is rewritten atomically (temporary file, fsync, rename) after each chunk is written
and fsynced, so it never runs ahead of the output. It holds the rows committed, what the writer needs to
find that point again (a byte offset or a part count), the summary counters, and the plan (chunk rows and
batch size) that a resumed run keeps, so that it cuts the rest of the input exactly as the first run would
have. It is removed when the run completes.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from pvoice.scoring.errors import ResumeMismatch

FORMAT = 1


def progress_path(output: Path) -> Path:
    return output.with_name(output.name + ".progress.json")


def job_identity(source, text_column: str, output: Path, model_version: str) -> dict:
    """What must not change between a run and its resumption."""
    stat = source.path.stat()
    return {"input": str(source.path.resolve()), "input_size": stat.st_size, "input_mtime_ns": stat.st_mtime_ns,
            "encoding": source.encoding, "columns": source.columns, "text_column": text_column,
            "output": str(output.resolve()), "model_version": model_version}


@dataclass
class Progress:
    job: dict
    plan: dict
    rows_done: int
    sink: dict
    summary: dict
    format: int = FORMAT

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(asdict(self), f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)

    @classmethod
    def load(cls, path: Path) -> "Progress":
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("format") != FORMAT:
                raise ValueError(f"format {raw.get('format')}")
            return cls(**raw)
        except (ValueError, TypeError) as exc:
            raise ResumeMismatch(f"{path} cannot be read ({exc}); start over without --resume") from exc

    def check(self, job: dict) -> None:
        changed = [k for k in job if self.job.get(k) != job[k]]
        if changed:
            detail = "; ".join(f"{k}: was {self.job.get(k)!r}, now {job[k]!r}" for k in changed)
            raise ResumeMismatch(f"cannot resume: the job changed ({detail}). Run the same command as before, or "
                                 "start over without --resume")


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
