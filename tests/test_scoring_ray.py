"""The Ray engine writes exactly what the local engine writes, row for row, on a local Ray."""

from __future__ import annotations

import pytest
import ray  # in the dev extra, so that `make test-slow` always runs this check

from pvoice.scoring import ScoreJob, score_file
from scoring_support import SAMPLE_COLUMNS, sample_rows, write_table

# slow: starting Ray takes about a minute of a 2-core machine; the local and pinned engines stay in the default run
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # the warnings: Ray's own


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def test_ray_engine_equals_local_engine(local_ray, tiny_model_dir, tmp_path):
    rows = sample_rows(240)
    rows[7][3], rows[100][3], rows[101][3] = "", "12345", "   "  # bad rows travel the same way
    src = write_table(tmp_path / "in.csv", SAMPLE_COLUMNS, rows, encoding="gbk")

    def job(engine: str, out: str) -> ScoreJob:
        return ScoreJob(input=src, output=tmp_path / out, model_dir=tiny_model_dir, batch_size=16, chunk_rows=160,
                        engine=engine, ray_concurrency=2, progress=False)

    local = score_file(job("local", "local.csv"))
    remote = score_file(job("ray", "ray.csv"))
    assert remote.engine == "ray" and remote.rows == 240
    assert (tmp_path / "ray.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert remote.summary.render() == local.summary.render()
    assert ray.is_initialized()  # the engine leaves a Ray it did not start running
