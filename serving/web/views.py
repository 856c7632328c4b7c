"""What the pages show, made from the API's public views (already masked for the role): names instead of ids, the
SLA state of a case, the evidence cut into marked segments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pvoice.labels import Taxonomy
from pvoice.serving.api.schemas import CaseDetail, CasePublic
from pvoice.serving.routing import RoutingTable
from pvoice.serving.web.highlight import Segment, highlight

EXCERPT_CHARS = 80
SOON_SECONDS = 10 * 60  # an urgent case this close to its acknowledgement deadline is shown in amber

STATUS_NAMES = {"open": "待处理", "acknowledged": "已确认", "resolved": "已解决"}
EVENT_NAMES = {
    "opened": "创建工单", "acknowledged": "已确认", "resolved": "已解决", "reassigned": "已转派", "note": "备注",
    "escalated": "已升级", "reminded": "已提醒", "alerted": "已发送提醒", "sla_breached": "超出时限",
    "alert_dead": "提醒无法送达", "alert_undeliverable": "提醒无法及时送达",
}


@dataclass(frozen=True)
class Sla:
    """`state`: overdue | soon | running | met | none. `due` is the deadline the countdown runs to, if any."""

    state: str
    label: str
    due: datetime | None = None
    kind: str = ""  # ack (acknowledge an urgent case) | answer (resolve a complaint)


def _span(seconds: float) -> str:
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{minutes}分"
    return f"{minutes}分{secs:02d}秒"


def sla_of(case: CasePublic, now: datetime) -> Sla:
    if case.status == "resolved":
        return Sla("met", "已解决")
    if case.urgency == "urgent" and case.status != "open":
        return Sla("met", "已确认")
    if case.due_at is None:
        return Sla("none", "—")
    kind = "ack" if case.urgency == "urgent" else "answer"
    verb = "确认" if kind == "ack" else "答复"
    left = (case.due_at - now).total_seconds()
    if left < 0:
        return Sla("overdue", f"{verb}已超时 {_span(left)}", case.due_at, kind)
    state = "soon" if kind == "ack" and left <= SOON_SECONDS else "running"
    return Sla(state, f"{verb}剩余 {_span(left)}", case.due_at, kind)


@dataclass(frozen=True)
class DeskRow:
    case: CasePublic
    sla: Sla
    touchpoints: list[str]
    reasons: list[str]
    assignee: str
    excerpt: str


def label_name(taxonomy: Taxonomy, label_id: str) -> str:
    try:
        return taxonomy.name_of(label_id)
    except KeyError:  # an id of an older taxonomy, stored before it changed
        return label_id


def _assignee(routing: RoutingTable, person_id: str) -> str:
    person = routing.people.get(person_id)
    return person.name if person else person_id


def desk_row(case: CasePublic, *, taxonomy: Taxonomy, routing: RoutingTable, now: datetime) -> DeskRow:
    suggestion = case.suggestion
    reasons = (suggestion.urgent_reasons or suggestion.review_reasons) if suggestion else []
    text = case.comment.text or ""
    excerpt = text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "")
    return DeskRow(case=case, sla=sla_of(case, now), touchpoints=[label_name(taxonomy, t) for t in case.touchpoints],
                   reasons=[label_name(taxonomy, r) for r in reasons], assignee=_assignee(routing, case.assignee),
                   excerpt=excerpt)


@dataclass(frozen=True)
class CasePage:
    row: DeskRow
    detail: CaseDetail
    segments: list[tuple[Segment, str]]  # each piece of the text with what its marks stand for ("" unmarked)
    evidence_names: dict[str, str]  # decision -> what the mark stands for


def case_page(detail: CaseDetail, *, taxonomy: Taxonomy, routing: RoutingTable, now: datetime) -> CasePage:
    evidence = detail.suggestion.evidence if detail.suggestion else {}
    names = {key: ("紧急依据" if key == "urgency" else label_name(taxonomy, key)) for key in evidence}
    return CasePage(row=desk_row(detail, taxonomy=taxonomy, routing=routing, now=now), detail=detail,
                    segments=[(seg, "、".join(names.get(m, m) for m in seg.marks))
                              for seg in highlight(detail.comment.text or "", evidence)], evidence_names=names)


def person_name(routing: RoutingTable, person_id: str | None) -> str:
    return _assignee(routing, person_id) if person_id else ""
