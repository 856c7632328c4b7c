"""`pvoice report --period 2026-W47 -o report.html` (or `.pdf`): the page a quality meeting reads, in Chinese.

The same aggregates as the managers' view (`pvoice.serving.insights`), for one ISO week and the week before, in
one self-contained HTML file: the style sheet, ECharts and the charts' script are inlined, so the file opens
anywhere, with no server and no network. Texts are masked: a report is passed around. A PDF is that file
printed by Chromium (Playwright, Debian's /usr/bin/chromium)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from importlib.resources import files
from pathlib import Path

from pvoice.labels import Taxonomy
from pvoice.serving.errors import ConfigError
from pvoice.serving.insights.filters import ViewFilter, parse_week
from pvoice.serving.insights.queries import urgent_cases
from pvoice.serving.insights.view import Dashboard, load_dashboard
from pvoice.serving.services.messages import excerpt
from pvoice.serving.web import charts
from pvoice.serving.web.pages import environment
from pvoice.serving.web.views import STATUS_NAMES, label_name

URGENT_LISTED = 50
TOP_ISSUES = 5


@dataclass(frozen=True)
class UrgentRow:
    case_id: int
    received_at: datetime
    department: str
    touchpoints: str
    reasons: str
    status: str
    text: str  # masked excerpt


def _static(name: str) -> str:
    return files("pvoice.serving.web").joinpath("static", name).read_text(encoding="utf-8")


def top_issues(view: Dashboard, taxonomy: Taxonomy) -> list[dict]:
    """The touchpoints with the most negative mentions this week, with the change against last week."""
    ranked = sorted((c for c in view.trend.changes if c.negative), key=lambda c: (-c.negative, c.touchpoint))
    words = view.keywords.words
    return [{"touchpoint": label_name(taxonomy, c.touchpoint), "negative": c.negative,
             "previous": c.previous_negative, "change": c.change, "share": c.share,
             "keywords": "、".join(k.word for k in words.get(c.touchpoint, [])[:5])} for c in ranked[:TOP_ISSUES]]


def render_report(*, factory, taxonomy: Taxonomy, settings, zone, period: str, now: datetime) -> str:
    week = parse_week(period, field="period")
    f = ViewFilter(week, zone)
    with factory() as session:
        view = load_dashboard(session, f=f, taxonomy=taxonomy, settings=settings, now=now, mask=True)
        cases, urgent_total = urgent_cases(session, f, limit=URGENT_LISTED)
        urgent = [UrgentRow(
            c.id, c.comment.received_at, c.department or "—",
            "、".join(label_name(taxonomy, t) for t in c.touchpoint_ids),
            "、".join(label_name(taxonomy, r) for r in (c.comment.suggestion.urgent_reasons if c.comment.suggestion
                                                        else [])),
            STATUS_NAMES.get(c.status, c.status), excerpt(c.comment.text, 120)) for c in cases]
    template = environment.get_template("report.html")
    return template.render(
        view=view, period_label=str(week), previous_label=str(week.previous()), taxonomy=taxonomy, zone=zone,
        chart_data=charts.chart_data(view, taxonomy), tables=charts.tables(view, taxonomy),
        keywords=charts.keyword_lists(view, taxonomy), spikes=charts.spike_rows(view, taxonomy),
        issues=top_issues(view, taxonomy), urgent=urgent, urgent_total=urgent_total, generated=now,
        history_weeks=settings.spike_history_weeks, css=_static("app.css"),
        scripts=[_static("vendor/echarts.min.js"), _static("charts.js")])


def browser_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not found:
        raise ConfigError("a PDF report needs Chromium — apt-get install chromium, or write the report as .html")
    return found


def write_pdf(html: str, target: Path) -> None:
    """Print the report page with Chromium once its charts are drawn."""
    from playwright.sync_api import sync_playwright

    executable = browser_path()
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "report.html"
        page_file.write_text(html, encoding="utf-8")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
            try:
                page = browser.new_page(locale="zh-CN")
                page.goto(page_file.as_uri())
                page.wait_for_selector("html[data-charts-ready=true]", timeout=30_000)
                page.pdf(path=str(target), format="A4", print_background=True,
                         margin={"top": "12mm", "bottom": "12mm", "left": "10mm", "right": "10mm"})
            finally:
                browser.close()
