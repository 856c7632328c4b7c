"""Reading the pages' forms and query strings: every value checked against the taxonomy, the routing file and sane
dates, with a message per field in Chinese. A page with problems answers 422 and queries nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pvoice.labels import Taxonomy
from pvoice.serving.api.schemas.common import YEAR_MAX, YEAR_MIN
from pvoice.serving.routing import RoutingTable
from pvoice.serving.services.cases import CaseFilter

DESK_STATUSES = {"unresolved": "未解决（待处理与已确认）", "open": "待处理", "acknowledged": "已确认",
                 "resolved": "已解决", "all": "全部"}
DESK_URGENCIES = {"": "全部", "urgent": "紧急", "complaint": "投诉"}
MAX_FIELD = 100

Problems = list[tuple[str, str]]  # (field, message)


@dataclass
class DeskForm:
    """The desk's filters as typed (echoed back into the form), and the problems found in them."""

    status: str = "unresolved"
    urgency: str = ""
    touchpoint: str = ""
    department: str = ""
    assignee: str = ""
    date_from: str = ""
    date_to: str = ""
    problems: Problems = field(default_factory=list)

    def query(self) -> dict[str, str]:
        """The non-empty filters, for links and for the polling call."""
        return {k: v for k, v in asdict(self).items() if k != "problems" and v}


def _day(value: str, name: str, problems: Problems) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        problems.append((name, f"日期「{value}」无法识别，请按 年-月-日 填写，例如 2026-03-02。"))
        return None
    if not YEAR_MIN <= day.year <= YEAR_MAX:
        problems.append((name, f"日期「{value}」的年份应在 {YEAR_MIN} 到 {YEAR_MAX} 之间。"))
        return None
    return day


def read_desk(params: Mapping[str, str], *, taxonomy: Taxonomy, routing: RoutingTable, zone: str
              ) -> tuple[DeskForm, CaseFilter | None]:
    """The desk's query string to a CaseFilter (None when any value is wrong: see `form.problems`). Dates are
    days in the service's zone; `date_to` includes its whole day."""
    form = DeskForm(**{k: str(params.get(k, "") or "").strip()[:MAX_FIELD * 2]
                       for k in ("status", "urgency", "touchpoint", "department", "assignee", "date_from", "date_to")})
    form.status = form.status or "unresolved"
    problems = form.problems
    if form.status not in DESK_STATUSES:
        problems.append(("status", f"未知的状态「{form.status}」；可选：{'、'.join(DESK_STATUSES)}。"))
    if form.urgency not in DESK_URGENCIES:
        problems.append(("urgency", f"未知的紧急程度「{form.urgency}」；可选：urgent（紧急）、complaint（投诉）。"))
    if form.touchpoint and form.touchpoint not in taxonomy.touchpoint_ids:
        problems.append(("touchpoint", f"未知的触点「{form.touchpoint}」；请从列表中选择"
                                       f"（{'、'.join(taxonomy.touchpoint_ids)}）。"))
    if form.assignee and form.assignee not in routing.people:
        problems.append(("assignee", f"未知的处理人「{form.assignee}」；请从列表中选择路由表中的人员。"))
    if len(form.department) > MAX_FIELD:
        problems.append(("department", f"科室名称最多 {MAX_FIELD} 个字。"))
    start, end = _day(form.date_from, "date_from", problems), _day(form.date_to, "date_to", problems)
    if start and end and start > end:
        problems.append(("date_to", f"结束日期 {end} 早于开始日期 {start}。"))
    if problems:
        return form, None
    tz = ZoneInfo(zone)
    return form, CaseFilter(
        status=form.status if form.status in ("open", "acknowledged", "resolved") else None,
        unresolved=form.status == "unresolved", urgency=form.urgency or None, touchpoint=form.touchpoint or None,
        department=form.department or None, assignee=form.assignee or None,
        created_from=datetime.combine(start, time(), tz) if start else None,
        created_to=datetime.combine(end + timedelta(days=1), time(), tz) if end else None)
