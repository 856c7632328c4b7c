"""The words of an alert: a title and a short markdown body, masked, in the staff's language."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from pvoice.labels import Taxonomy
from pvoice.serving.db.models import Case, Comment
from pvoice.serving.masking import mask_pii

EXCERPT_CHARS = 300
EVENT_TITLES = {
    "opened": "新{urgency}患者意见",
    "escalated": "升级：{urgency}意见 {minutes} 分钟内未确认",
    "reminder": "提醒：投诉即将超时未答复",
    "reassigned": "转派给您的{urgency}意见",
    "praise": "患者表扬",
}


def _name(taxonomy: Taxonomy, label: str) -> str:
    try:
        return taxonomy.name_of(label)
    except KeyError:
        return label


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = mask_pii(" ".join(text.split()))
    return text if len(text) <= limit else text[:limit] + "…"


def render_case_alert(*, case: Case, comment: Comment, reasons: list[str], event: str, taxonomy: Taxonomy,
                      zone: ZoneInfo, minutes: float = 0, extra: str = "") -> tuple[str, str]:
    urgency = _name(taxonomy, case.urgency)
    title = f"[{urgency}] #{case.id} " + EVENT_TITLES[event].format(urgency=urgency, minutes=int(minutes))
    lines = [
        f"**紧急程度**：{urgency}" + (f"（{'、'.join(_name(taxonomy, r) for r in reasons)}）" if reasons else ""),
        f"**触点**：{'、'.join(_name(taxonomy, t) for t in case.touchpoint_ids)}",
        f"**负责**：{case.responsible_role}",
    ]
    if case.department:
        lines.append(f"**科室**：{case.department}" + (f" / {comment.ward}" if comment.ward else ""))
    lines += [
        f"**渠道**：{_name(taxonomy, comment.channel)}，收到于 {comment.received_at.astimezone(zone):%Y-%m-%d %H:%M}",
        f"> {excerpt(comment.text)}",
    ]
    if case.due_at is not None:
        lines.append(f"请于 {case.due_at.astimezone(zone):%m-%d %H:%M} 前处理：案件 #{case.id}")
    if extra:  # staff notes (a reassign's reason) are free text too: a patient's number can be in them
        lines.append(mask_pii(" ".join(extra.split())))
    return title, "\n".join(lines)


def render_praise(*, comment: Comment, person_name: str, taxonomy: Taxonomy, zone: ZoneInfo) -> tuple[str, str]:
    title = f"患者表扬：{person_name}"
    body = "\n".join([
        f"**渠道**：{_name(taxonomy, comment.channel)}，收到于 {comment.received_at.astimezone(zone):%Y-%m-%d %H:%M}",
        f"> {excerpt(comment.text)}",
    ])
    return title, body


def render_spike(*, week_label: str, touchpoint: str, department: str, observed: int, expected: float,
                 history: list[int], p_value: float, taxonomy: Taxonomy) -> tuple[str, str]:
    """A spike of negative comments about one touchpoint in one department (no patient text in it)."""
    name = _name(taxonomy, touchpoint)
    title = f"[负面意见异常升高] {department} · {name}（{week_label}）"
    body = "\n".join([
        f"**科室**：{department}",
        f"**触点**：{name}",
        f"**本周负面意见**：{observed} 条（前 {len(history)} 周平均 {expected:.1f} 条）",
        f"**前 {len(history)} 周**：{'、'.join(str(n) for n in history)}",
        f"**检验**：单侧泊松检验 p = {p_value:.2g}（Benjamini-Hochberg 校正后显著）",
        "请在管理看板查看这些意见。",
    ])
    return title, body
