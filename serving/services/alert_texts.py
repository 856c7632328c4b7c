"""The words of the alerts that delivery itself causes: the admin's page about a dead letter, and the line an
escalation carries when the level below could not be reached. Case alerts are worded in `messages.py`."""

from __future__ import annotations

from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pvoice.serving.db.models import OutboxAlert


def shown_target(target: str) -> str:
    """A target as a person may see it: robot URLs carry their access token in the query, which stays out."""
    if "://" not in target:
        return target
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def render_dead_letter(dead: OutboxAlert, *, zone: ZoneInfo) -> tuple[str, str]:
    title = f"告警投递失败：{dead.title}"
    lines = [
        f"**收件人**：{dead.recipient}（{dead.channel}：{shown_target(dead.target)}）",
        f"**尝试**：{dead.attempts} 次，最后错误：{dead.last_error_code or '未知'}",
        f"**生成于**：{dead.created_at.astimezone(zone):%Y-%m-%d %H:%M}",
        f"**告警编号**：{dead.id}（{dead.idempotency_key}）",
        f"请检查该渠道的配置或接收方，修复后由管理员重新发送：POST /v1/alerts/{dead.id}/retry",
    ]
    return title, "\n".join(lines)


def undeliverable_note(dead: OutboxAlert) -> str:
    """Why an escalation came before its time: the alert to the level below cannot arrive within the SLA."""
    return f"原因：发给 {dead.recipient} 的告警无法在时限内送达（{dead.last_error_code or '未知错误'}）"
