"""The managers' view as the page shows it: the loaded aggregates turned into chart data for ECharts (names in
Chinese, a drill-down link behind every cell and bar) and the tables that the export buttons download. The
script only draws what it is given and follows the links: no query, count or rule lives in it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from pvoice.labels import Taxonomy
from pvoice.serving.insights.drilldown import Cell
from pvoice.serving.insights.export import SLA_NAMES, Table
from pvoice.serving.insights.filters import ViewFilter
from pvoice.serving.insights.spikes import week_label
from pvoice.serving.insights.view import TABLES, Dashboard
from pvoice.serving.web.views import label_name

DRILL_PATH = "/app/dashboard/drill"
EXPORT_PATH = "/app/dashboard/export"
SLA_STATUS_NAMES = {"met": "达标", "missed": "超时", "pending": "未到期"}


def drill_link(f: ViewFilter, cell: Cell) -> str:
    return f"{DRILL_PATH}?{urlencode({**f.query(), **cell.query()})}"


def query_string(f: ViewFilter) -> str:
    return urlencode(f.query())


def cell_title(cell: Cell, taxonomy: Taxonomy) -> str:
    """What was clicked, in words."""
    name = lambda i: label_name(taxonomy, i)  # noqa: E731
    if cell.kind == "aspect":
        return f"{name(cell.touchpoint)} · {name(cell.sentiment)}"
    if cell.kind == "week":
        return f"{name(cell.touchpoint)} · {week_label(cell.week)} 的负面意见"
    if cell.kind == "keyword":
        return f"{name(cell.touchpoint)} · 含“{cell.word}”的负面意见"
    if cell.kind == "reason":
        return f"紧急工单 · {name(cell.reason)}"
    return f"{name(cell.urgency)} · {SLA_NAMES[cell.measure]} · {SLA_STATUS_NAMES[cell.status]}"


def export_link(f: ViewFilter, table: str, fmt: str) -> str:
    return f"{EXPORT_PATH}?{urlencode({**f.query(), 'table': table, 'format': fmt})}"


def chart_data(view: Dashboard, taxonomy: Taxonomy) -> dict:
    """Everything the charts draw, as JSON-ready values."""
    f, name = view.filter, lambda i: label_name(taxonomy, i)
    h = view.heatmap
    heat = {
        "x": [name(s) for s in h.sentiments], "y": [name(t) for t in h.touchpoints],
        "data": [[x, y, h.counts.get(t, {}).get(s, 0)] for y, t in enumerate(h.touchpoints)
                 for x, s in enumerate(h.sentiments)],
        "links": [[drill_link(f, Cell("aspect", touchpoint=t, sentiment=s)) for s in h.sentiments]
                  for t in h.touchpoints],
        "max": max((n for c in h.counts.values() for n in c.values()), default=0),
    }
    tr = view.trend
    shown = [c.touchpoint for c in tr.changes if c.mentions or c.previous_mentions]
    trend = {
        "weeks": [week_label(w) for w in tr.weeks],
        "series": [{"name": name(t), "data": tr.negative[t],
                    "links": [drill_link(f, Cell("week", touchpoint=t, sentiment="negative", week=w))
                              for w in tr.weeks]} for t in shown],
    }
    u = view.urgent
    urgent = {"reasons": [name(r) for r in u.counts], "data": list(u.counts.values()),
              "links": [drill_link(f, Cell("reason", reason=r, urgency="urgent")) for r in u.counts]}
    sla = {"categories": [f"{name(c.urgency)} · {SLA_NAMES[c.measure]}" for c in view.sla],
           "statuses": [{"name": SLA_STATUS_NAMES[s], "status": s, "data": [getattr(c, s) for c in view.sla],
                         "links": [drill_link(f, Cell("sla", measure=c.measure, urgency=c.urgency, status=s))
                                   for c in view.sla]} for s in SLA_STATUS_NAMES]}
    return {"heatmap": heat, "trend": trend, "urgent": urgent, "sla": sla}


@dataclass(frozen=True)
class KeywordLink:
    word: str
    comments: int
    link: str


def keyword_lists(view: Dashboard, taxonomy: Taxonomy) -> list[tuple[str, int, list[KeywordLink]]]:
    """(touchpoint name, negative comments read, keywords with their drill-down links), busiest first."""
    f, kw = view.filter, view.keywords
    rows = [(label_name(taxonomy, t), kw.read[t],
             [KeywordLink(k.word, k.comments, drill_link(f, Cell("keyword", touchpoint=t, sentiment="negative",
                                                                  word=k.word))) for k in words])
            for t, words in kw.words.items() if words]
    return sorted(rows, key=lambda r: -r[1])


def tables(view: Dashboard, taxonomy: Taxonomy) -> dict[str, Table]:
    return {name: view.table(name, taxonomy) for name in TABLES}


def spike_rows(view: Dashboard, taxonomy: Taxonomy) -> list[dict]:
    f = view.filter
    return [{"week": week_label(s.week), "department": s.test.department,
             "touchpoint": label_name(taxonomy, s.test.touchpoint), "observed": s.test.observed,
             "expected": s.test.expected, "history": s.test.history, "p_value": s.test.p_value,
             "alerted": s.alerted, "flagged": s.flag is not None,
             "link": drill_link(f.with_department(s.test.department),
                                Cell("week", touchpoint=s.test.touchpoint, sentiment="negative", week=s.week))}
            for s in view.spikes]
