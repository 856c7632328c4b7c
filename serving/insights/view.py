"""Everything the managers' view and the weekly report show for one filter, loaded through the aggregate queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pvoice.labels import Taxonomy
from pvoice.serving.db.models import SpikeFlag
from pvoice.serving.insights import export
from pvoice.serving.insights.filters import ViewFilter
from pvoice.serving.insights.keywords import TopKeywords, top_keywords
from pvoice.serving.insights.queries import (
    Compliance, Heatmap, Trend, UrgentReasons, heatmap_and_trend, sla_compliance, urgent_by_reason,
)
from pvoice.serving.insights.spikes import SpikeRule, SpikeTest, score_weeks

TABLES = ("heatmap", "trend", "keywords", "urgent", "sla", "spikes")


@dataclass(frozen=True)
class Spike:
    """A spike of one week of the period, as found by the test now, and whether the service has flagged
    (stored) and alerted it."""

    week: date
    test: SpikeTest
    flag: SpikeFlag | None

    @property
    def alerted(self) -> bool:
        return self.flag is not None and self.flag.alerted_at is not None


@dataclass
class Dashboard:
    filter: ViewFilter
    heatmap: Heatmap
    trend: Trend
    keywords: TopKeywords
    urgent: UrgentReasons
    sla: list[Compliance]
    spikes: list[Spike]

    def table(self, name: str, taxonomy: Taxonomy) -> export.Table:
        return {
            "heatmap": lambda: export.heatmap_table(self.heatmap, taxonomy),
            "trend": lambda: export.trend_table(self.trend, taxonomy),
            "keywords": lambda: export.keywords_table(self.keywords, taxonomy),
            "urgent": lambda: export.urgent_table(self.urgent, taxonomy),
            "sla": lambda: export.sla_table(self.sla, taxonomy),
            "spikes": lambda: export.spikes_table(self.spikes, taxonomy),
        }[name]()


def spikes_in_period(session: Session, f: ViewFilter, rule: SpikeRule) -> list[Spike]:
    """The spikes of each week of the period (of the filter's department only, when it has one), newest week
    first, each with its stored flag if the service has flagged it. Channels are not filtered: a spike is a
    department's, whatever the channel."""
    weeks = f.period.weeks()
    tests = score_weeks(session, weeks=weeks, rule=rule)
    flags = {(fl.week, fl.touchpoint, fl.department): fl for fl in session.scalars(
        select(SpikeFlag).where(SpikeFlag.week >= weeks[0], SpikeFlag.week <= weeks[-1]))}
    out = []
    for week in reversed(weeks):
        for t in tests[week]:
            if t.spike and (not f.department or t.department == f.department):
                out.append(Spike(week, t, flags.get((week, t.touchpoint, t.department))))
    return out


def load_dashboard(session: Session, *, f: ViewFilter, taxonomy: Taxonomy, settings, now: datetime, mask: bool,
                   parts: tuple[str, ...] = TABLES) -> Dashboard:
    """The view's data; `parts` leaves out what is not needed (an export of one table loads that table alone).
    `mask`: for roles without pii:read (keywords that are names are left out)."""
    view = Dashboard(f, Heatmap([], [], {}), Trend([], {}, {}), TopKeywords(0, {}, {}), UrgentReasons(0, {}), [], [])
    if "heatmap" in parts or "trend" in parts:
        view.heatmap, view.trend = heatmap_and_trend(session, f, taxonomy)
    if "keywords" in parts:
        view.keywords = top_keywords(session, f, taxonomy, sample=settings.dashboard_keyword_sample, mask=mask)
    if "urgent" in parts:
        view.urgent = urgent_by_reason(session, f, taxonomy)
    if "sla" in parts:
        view.sla = sla_compliance(session, f, now=now)
    if "spikes" in parts:
        view.spikes = spikes_in_period(session, f, SpikeRule.from_settings(settings))
    return view
