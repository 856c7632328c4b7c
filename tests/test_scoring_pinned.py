"""The pinned engine (one process per core, one thread each) writes exactly what the local engine writes."""

from __future__ import annotations

from pvoice.scoring import ScoreJob, score_file
from pvoice.scoring.pinned_engine import usable_cores
from scoring_support import SAMPLE_COLUMNS, sample_rows, write_table


def test_pinned_engine_equals_local_engine(tiny_model_dir, tmp_path):
    rows = sample_rows(200)
    rows[3][3], rows[50][3] = "", "!!!"  # rows the model never sees keep their place and their error
    src = write_table(tmp_path / "in.csv", SAMPLE_COLUMNS, rows)

    def job(engine: str, out: str, **kw) -> ScoreJob:
        return ScoreJob(input=src, output=tmp_path / out, model_dir=tiny_model_dir, batch_size=8, chunk_rows=120,
                        engine=engine, progress=False, **kw)

    local = score_file(job("local", "local.csv"))
    pinned = score_file(job("pinned", "pinned.csv", workers=2))
    assert pinned.engine == "pinned" and pinned.rows == 200
    assert (tmp_path / "pinned.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert pinned.summary.render() == local.summary.render()


def test_usable_cores_are_the_ones_this_process_may_run_on():
    import os

    assert set(usable_cores()) == set(os.sched_getaffinity(0))
