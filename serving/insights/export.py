"""Any table of the managers' view as CSV (UTF-8 with a BOM, which Excel opens) or XLSX. Cells that start like
a formula stay text, by batch scoring's own helpers (`pvoice.scoring.writers`)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from pvoice.labels import Taxonomy
from pvoice.scoring.writers import csv_safe, xlsx_cell
from pvoice.serving.errors import InvalidInput
from pvoice.serving.insights.keywords import TopKeywords
from pvoice.serving.insights.queries import Compliance, Heatmap, Trend, UrgentReasons
from pvoice.serving.insights.spikes import week_label

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
SLA_NAMES = {"ack": "30 分钟内确认", "answer": "2 个工作日内答复"}


@dataclass
class Table:
    name: str  # file name stem: heatmap, trend, ...
    title: str  # Chinese, the sheet's name
    columns: list[str]
    rows: list[list]


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def heatmap_table(h: Heatmap, taxonomy: Taxonomy) -> Table:
    rows = [[taxonomy.name_of(t), *(h.counts.get(t, {}).get(s, 0) for s in h.sentiments), h.total(t),
             _pct(h.share(t, "negative"))] for t in h.touchpoints]
    return Table("heatmap", "触点×情感", ["触点", *(taxonomy.name_of(s) for s in h.sentiments), "合计", "负面占比"],
                 rows)


def trend_table(tr: Trend, taxonomy: Taxonomy) -> Table:
    weeks = [week_label(w) for w in tr.weeks]
    rows = []
    for change in tr.changes:
        t = change.touchpoint
        rows.append([taxonomy.name_of(t), *tr.negative[t], change.negative, change.previous_negative,
                     _pct(change.change), _pct(change.share), _pct(change.previous_share)])
    return Table("trend", "每周负面趋势", ["触点", *weeks, "本期负面", "上期负面", "变化", "本期负面占比", "上期负面占比"],
                 rows)


def keywords_table(kw: TopKeywords, taxonomy: Taxonomy) -> Table:
    rows = [[taxonomy.name_of(t), rank, k.word, k.comments, kw.read[t]]
            for t, words in kw.words.items() for rank, k in enumerate(words, start=1)]
    return Table("keywords", "负面关键词", ["触点", "排名", "关键词", "含该词的意见", "读取的负面意见"], rows)


def urgent_table(u: UrgentReasons, taxonomy: Taxonomy) -> Table:
    rows = [[taxonomy.name_of(r), n] for r, n in u.counts.items()]
    return Table("urgent", "紧急工单原因", ["原因", "紧急工单"], rows + [["紧急工单合计", u.cases]])


def sla_table(items: list[Compliance], taxonomy: Taxonomy) -> Table:
    rows = [[SLA_NAMES[c.measure], taxonomy.name_of(c.urgency), c.met, c.missed, c.pending, _pct(c.rate)]
            for c in items]
    return Table("sla", "SLA 达标", ["指标", "紧急程度", "达标", "超时", "未到期", "达标率"], rows)


def spikes_table(spikes: list, taxonomy: Taxonomy) -> Table:
    """`spikes`: the view's (`view.Spike`: a week, its test, whether it was alerted)."""
    rows = [[week_label(s.week), s.test.department, taxonomy.name_of(s.test.touchpoint), s.test.observed,
             round(s.test.expected, 2), f"{s.test.p_value:.3g}", "已通知" if s.alerted else ""] for s in spikes]
    return Table("spikes", "负面异常升高", ["周", "科室", "触点", "本周负面", "基线(周均)", "p 值", "告警"], rows)


def check_format(fmt: str | None) -> str:
    fmt = (fmt or "").strip().lower()
    if fmt not in FORMATS:
        raise InvalidInput(f"format: {fmt!r} is not one of {', '.join(FORMATS)}", field="format")
    return fmt


def render(table: Table, fmt: str) -> bytes:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([csv_safe(c) for c in table.columns])
        writer.writerows([csv_safe(v) if isinstance(v, str) else v for v in row] for row in table.rows)
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(table.title[:31])
    ws.append([xlsx_cell(ws, c) for c in table.columns])
    for row in table.rows:
        ws.append([xlsx_cell(ws, v) for v in row])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def file_name(table: Table, fmt: str, period_label: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in period_label)
    return f"pvoice-{table.name}-{safe}.{fmt}"
