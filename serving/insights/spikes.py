"""Spike detection: a touchpoint x department whose negative comments this week are far above its own history.

The test, for each cell (touchpoint, department) with any negative comment in the week tested or in the
`spike_history_weeks` weeks before it:

- baseline λ = the mean weekly negative count of those earlier weeks (weeks without any count as 0), floored
  at `spike_min_expected`, so that a quiet cell is not flagged for two complaints;
- p = P(X ≥ observed) for X ~ Poisson(λ): a one-sided exact Poisson test of this week's count;
- the week's p-values are corrected together by Benjamini-Hochberg at false discovery rate `spike_fdr` (many
  cells are tested each week, and a few would pass a plain 5% test by chance alone);
- a cell is a spike when its test is rejected, its count is at least `spike_min_count` and at least
  `spike_min_ratio` times λ (a statistically clear but small rise is not worth a meeting).

Comments without a department are not tested (no one to send the spike to). The week is the local ISO week;
the week in progress is tested on its count so far, which can only make a spike appear later, never earlier.
Poisson ignores over-dispersion (bad weeks come in runs): the ratio and count floors keep it from paging on
noise, and a flag is a reason to read the comments, which the page links to.

A flag is stored once per cell and week (found again, its figures are updated); with `spike_alerts` it alerts
its route's people once, through the outbox like any alert, keyed by the cell and week."""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pvoice.serving.db.engine import transaction
from pvoice.serving.db.models import CommentAspect, SpikeFlag
from pvoice.serving.insights.facts import local_week
from pvoice.serving.insights.queries import NEGATIVE
from pvoice.serving.services.context import ServiceContext
from pvoice.serving.services.messages import render_spike
from pvoice.serving.services.outbox import enqueue_spike

log = logging.getLogger("pvoice.spikes")


def poisson_sf(k: int, lam: float) -> float:
    """P(X ≥ k) for X ~ Poisson(lam), summed in log space (exact enough for p-values down to 1e-300)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0

    def log_pmf(i: int) -> float:
        return -lam + i * math.log(lam) - math.lgamma(i + 1)

    if k <= lam:  # the bulk: one minus the lower tail loses nothing here
        return max(0.0, 1.0 - sum(math.exp(log_pmf(i)) for i in range(k)))
    total, i = 0.0, k
    term = math.exp(log_pmf(k))
    while term > 0 and (term > total * 1e-16):
        total += term
        i += 1
        term *= lam / i
    return min(1.0, total)


def benjamini_hochberg(p_values: list[float], q: float) -> list[bool]:
    """Which hypotheses are rejected at false discovery rate `q` (step-up: the largest rank r with
    p_(r) ≤ r q / m, and every p-value at or below p_(r))."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    cutoff = -1
    for rank, i in enumerate(order, start=1):
        if p_values[i] <= rank * q / m:
            cutoff = rank
    rejected = [False] * m
    for rank, i in enumerate(order, start=1):
        rejected[i] = rank <= cutoff
    return rejected


@dataclass(frozen=True)
class SpikeTest:
    touchpoint: str
    department: str
    observed: int
    history: list[int]  # oldest first
    expected: float  # the floored baseline
    p_value: float
    spike: bool


def week_label(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class SpikeRule:
    history_weeks: int
    min_expected: float
    min_count: int
    min_ratio: float
    fdr: float

    @classmethod
    def from_settings(cls, s) -> SpikeRule:
        return cls(s.spike_history_weeks, s.spike_min_expected, s.spike_min_count, s.spike_min_ratio, s.spike_fdr)


def score_weeks(session: Session, *, weeks: list[date], rule: SpikeRule) -> dict[date, list[SpikeTest]]:
    """Every cell tested in each week (Mondays), spikes first, smallest p first: one GROUP BY over the weeks and
    their history. Always every department's cells, since the correction is over all the week's tests (a view
    of one department filters the result, it does not test fewer cells)."""
    if not weeks:
        return {}
    first = min(weeks) - timedelta(weeks=rule.history_weeks)
    query = (select(CommentAspect.week, CommentAspect.touchpoint, CommentAspect.department, func.count())
             .where(CommentAspect.week >= first, CommentAspect.week <= max(weeks),
                    CommentAspect.sentiment == NEGATIVE, CommentAspect.department.is_not(None))
             .group_by(CommentAspect.week, CommentAspect.touchpoint, CommentAspect.department))
    counts: dict[tuple[str, str], dict[date, int]] = {}
    for monday, touchpoint, dep, n in session.execute(query):
        counts.setdefault((touchpoint, dep), {})[monday] = int(n)
    return {week: _score(counts, week, rule) for week in weeks}


def _score(counts: dict[tuple[str, str], dict[date, int]], week: date, rule: SpikeRule) -> list[SpikeTest]:
    before = [week - timedelta(weeks=n) for n in range(rule.history_weeks, 0, -1)]
    tests = []
    for (touchpoint, department), by_week in sorted(counts.items()):
        history = [by_week.get(w, 0) for w in before]
        observed = by_week.get(week, 0)
        if not observed and not any(history):
            continue  # nothing in this cell's window: not a hypothesis of this week
        expected = max(sum(history) / rule.history_weeks, rule.min_expected)
        tests.append((touchpoint, department, observed, history, expected, poisson_sf(observed, expected)))
    rejected = benjamini_hochberg([t[5] for t in tests], rule.fdr)
    out = [SpikeTest(tp, dep, obs, hist, exp, p,
                     spike=bool(rej and obs >= rule.min_count and obs >= rule.min_ratio * exp))
           for (tp, dep, obs, hist, exp, p), rej in zip(tests, rejected)]
    return sorted(out, key=lambda t: (not t.spike, t.p_value, t.touchpoint, t.department))


def find_spikes(session: Session, ctx: ServiceContext, *, week: date) -> list[SpikeTest]:
    tests = score_weeks(session, weeks=[week], rule=SpikeRule.from_settings(ctx.settings))[week]
    return [t for t in tests if t.spike]


def flags_of_week(session: Session, *, week: date, department: str | None = None) -> list[SpikeFlag]:
    query = select(SpikeFlag).where(SpikeFlag.week == week)
    if department:
        query = query.where(SpikeFlag.department == department)
    return list(session.scalars(query.order_by(SpikeFlag.p_value, SpikeFlag.id)))


def _alert(session: Session, ctx: ServiceContext, flag: SpikeFlag, test: SpikeTest, now: datetime) -> None:
    route = ctx.routing.route_for([flag.touchpoint], flag.department)
    people = ctx.routing.reachable(route.people if route else ctx.routing.fallback.people, now)
    title, body = render_spike(week_label=week_label(flag.week), touchpoint=flag.touchpoint,
                               department=flag.department, observed=test.observed, expected=test.expected,
                               history=test.history, p_value=test.p_value, taxonomy=ctx.taxonomy)
    department = hashlib.sha256(flag.department.encode()).hexdigest()[:10]  # keys are ASCII: no Chinese in them
    cell_key = f"{week_label(flag.week)}-{flag.touchpoint}-{department}"
    enqueue_spike(session, people=people, cell_key=cell_key, title=title, body=body, now=now)
    flag.alerted_at, flag.route = now, route.id if route else "fallback"


def flag_spikes(ctx: ServiceContext, *, week: date | None = None, now: datetime | None = None) -> list[SpikeFlag]:
    """Test `week` (default: the current local week), store its spikes, alert the new ones (when
    `spike_alerts`); idempotent, and safe beside another process doing the same (the flag's unique key and the
    alert's idempotency key turn a second writer's insert into a no-op)."""
    now = now or ctx.clock.now()
    week = week or local_week(now, ctx.routing.zone)
    try:
        with transaction(ctx.factory) as session:
            for test in find_spikes(session, ctx, week=week):
                flag = session.scalar(select(SpikeFlag).where(SpikeFlag.week == week,
                                                              SpikeFlag.touchpoint == test.touchpoint,
                                                              SpikeFlag.department == test.department))
                if flag is None:
                    flag = SpikeFlag(week=week, touchpoint=test.touchpoint, department=test.department,
                                     detected_at=now, observed=test.observed, expected=test.expected,
                                     p_value=test.p_value)
                    session.add(flag)
                    session.flush()
                    log.info("spike flagged", extra={"week": week_label(week), "touchpoint": test.touchpoint,
                                                     "observed": test.observed, "expected": round(test.expected, 2)})
                flag.observed, flag.expected, flag.p_value = test.observed, test.expected, test.p_value
                if ctx.settings.spike_alerts and flag.alerted_at is None:
                    _alert(session, ctx, flag, test, now)
    except IntegrityError:
        log.info("spikes of this week written meanwhile by another process", extra={"week": week_label(week)})
    with ctx.factory() as session:
        flags = flags_of_week(session, week=week)
    ctx.notify()
    return flags
