"""--resume: a run stopped at any point and resumed writes exactly what an uninterrupted run writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pvoice.model.predictor import Classifier
from pvoice.scoring import OutputExists, ResumeMismatch, ScoreJob, score_file
from pvoice.scoring.resume import progress_path
from scoring_support import SAMPLE_COLUMNS, read_table, sample_rows, write_table

N_ROWS = 45


class Crash(Exception):
    pass


def crash_at(stage: str, rows: int):
    def hook(at: str, done: int) -> None:
        if at == stage and done >= rows:
            raise Crash(f"{stage} after {done} rows")
    return hook


@pytest.fixture(scope="module")
def classifier(tiny_model_dir) -> Classifier:
    return Classifier.from_pretrained(tiny_model_dir)


def run(classifier, src: Path, out: Path, **kw):
    kw.setdefault("batch_size", 4)
    kw.setdefault("chunk_rows", 8)
    return score_file(ScoreJob(input=src, output=out, progress=False, **kw), classifier=classifier)


def same_output(a: Path, b: Path) -> bool:
    if a.suffix in (".csv", ".jsonl"):
        return a.read_bytes() == b.read_bytes()
    return read_table(a) == read_table(b)  # xlsx and parquet carry write times in their metadata


@pytest.mark.parametrize("src_name, out_name", [
    ("in.csv", "out.csv"), ("in.jsonl", "out.jsonl"), ("in.xlsx", "out.xlsx"), ("in.parquet", "out.parquet"),
    ("in.parquet", "out.csv"),  # skipping into the middle of a row group
])
def test_resume_after_a_crash_equals_an_uninterrupted_run(src_name, out_name, classifier, tmp_path):
    src = write_table(tmp_path / src_name, SAMPLE_COLUMNS, sample_rows(N_ROWS))
    reference = run(classifier, src, tmp_path / f"ref{Path(out_name).suffix}")
    out = tmp_path / out_name
    with pytest.raises(Crash):  # dies after writing the third chunk, before committing it
        run(classifier, src, out, hook=crash_at("written", 16))
    state = json.loads(progress_path(out).read_text(encoding="utf-8"))
    assert state["rows_done"] == 16
    resumed = run(classifier, src, out, resume=True)
    assert resumed.rows == N_ROWS and resumed.rows_this_run == N_ROWS - 16
    assert same_output(out, tmp_path / f"ref{Path(out_name).suffix}")
    assert resumed.summary.render() == reference.summary.render()
    assert not progress_path(out).exists()


@pytest.mark.parametrize("stage", ["scored", "written", "committed"])
def test_resume_twice_from_any_stage(stage, classifier, tmp_path):
    src = write_table(tmp_path / "in.csv", SAMPLE_COLUMNS, sample_rows(N_ROWS))
    run(classifier, src, tmp_path / "ref.csv")
    out = tmp_path / "out.csv"
    with pytest.raises(Crash):
        run(classifier, src, out, hook=crash_at(stage, 8))
    with pytest.raises(Crash):
        run(classifier, src, out, resume=True, hook=crash_at(stage, 32))
    run(classifier, src, out, resume=True)
    assert out.read_bytes() == (tmp_path / "ref.csv").read_bytes()


def test_ctrl_c_leaves_a_resumable_run(tiny_model_dir, tmp_path, monkeypatch):
    from pvoice.cli import app
    from pvoice.scoring.engine import LocalEngine

    src = write_table(tmp_path / "in.csv", SAMPLE_COLUMNS, sample_rows(N_ROWS), encoding="gbk")
    args = ["score", str(src), "--model", str(tiny_model_dir), "--batch-size", "4", "--chunk-rows", "8",
            "--no-progress"]
    assert CliRunner().invoke(app, [*args, "-o", str(tmp_path / "ref.csv")]).exit_code == 0
    score, calls = LocalEngine.score, []

    def interrupted(self, *a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return score(self, *a, **kw)

    monkeypatch.setattr(LocalEngine, "score", interrupted)
    res = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "out.csv")])
    assert res.exit_code == 130 and "16 rows committed" in res.output and "--resume" in res.output
    monkeypatch.setattr(LocalEngine, "score", score)
    res = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "out.csv")])
    assert res.exit_code == 2 and "unfinished_output" in res.output  # not silently overwritten
    res = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "out.csv"), "--resume"])
    assert res.exit_code == 0, res.output
    assert "resumed after 16 rows" in res.output
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()


def test_resume_refuses_a_changed_job(classifier, tmp_path):
    src = write_table(tmp_path / "in.csv", SAMPLE_COLUMNS, sample_rows(N_ROWS))
    out = tmp_path / "out.csv"
    with pytest.raises(Crash):
        run(classifier, src, out, hook=crash_at("committed", 8))
    write_table(src, SAMPLE_COLUMNS, sample_rows(N_ROWS + 1))
    with pytest.raises(ResumeMismatch, match="input_size"):
        run(classifier, src, out, resume=True)
    with pytest.raises(OutputExists, match="--resume"):
        run(classifier, src, out)
    run(classifier, src, out, overwrite=True)
    assert len(read_table(out)[1]) == N_ROWS + 1


def test_resume_without_progress(classifier, tmp_path):
    src = write_table(tmp_path / "in.csv", SAMPLE_COLUMNS, sample_rows(10))
    run(classifier, src, tmp_path / "out.csv", resume=True)  # nothing to resume: a fresh run
    with pytest.raises(OutputExists, match="no progress file"):
        run(classifier, src, tmp_path / "out.csv", resume=True)


@pytest.mark.slow
def test_resume_after_sigkill(tiny_model_dir, tmp_path):
    """A real process killed mid-run (kill -9), then resumed from the command line."""
    src = write_table(tmp_path / "in.csv", SAMPLE_COLUMNS, sample_rows(1200))
    cmd = [str(Path(sys.executable).with_name("pvoice")), "score", str(src), "--model", str(tiny_model_dir),
           "--batch-size", "8", "--chunk-rows", "40", "--no-progress"]
    assert subprocess.run([*cmd, "-o", str(tmp_path / "ref.csv")], capture_output=True).returncode == 0
    out = tmp_path / "out.csv"
    proc = subprocess.Popen([*cmd, "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = progress_path(out)
        if state.exists() and json.loads(state.read_text(encoding="utf-8"))["rows_done"] >= 400:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = json.loads(progress_path(out).read_text(encoding="utf-8"))["rows_done"]
    assert 400 <= done < 1200
    assert subprocess.run([*cmd, "-o", str(out), "--resume"], capture_output=True).returncode == 0
    assert out.read_bytes() == (tmp_path / "ref.csv").read_bytes()
