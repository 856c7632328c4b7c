"""The reliability suite's quick run (bench/reliability.py --quick) against a live service in a subprocess:
generated requests with every role, the role matrix, hostile inputs, a slow receiver, a receiver down for ten
minutes of the service's clock, kill -9 mid-delivery and a full disk. One run for the module (about a minute
and a half on two cores); each scenario is its own test, failing with the suite's table and failures.
Not in the default run (it keeps `make test` under 10 minutes): `make test-reliability` runs it, and so does CI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import reliability  # noqa: E402

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def quick_run() -> dict:
    rows, _ = reliability.run(quick=True, log=lambda line: print(line, file=sys.stderr))
    return {"rows": {row.scenario: row for row in rows}, "report": reliability.report(rows)}


@pytest.mark.parametrize("scenario", reliability.SCENARIOS)
def test_quick_reliability_run_loses_nothing_and_answers_no_5xx(quick_run, scenario):
    row = quick_run["rows"].get(scenario)
    assert row is not None, quick_run["report"]
    assert (row.lost_comments, row.lost_alerts, row.server_errors) == (0, 0, 0), quick_run["report"]
    assert not row.failures, quick_run["report"]
    assert row.load > 0
