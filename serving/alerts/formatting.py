"""How alerts read: markdown blocks packed under a robot's byte limit, batch keys, and e-mail messages."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from markdown_it import MarkdownIt

from pvoice.serving.alerts.message import AlertMessage

SEPARATOR = "\n\n"
TRUNCATED = "\n\n…（内容过长，已截断）"
SUBJECT_MAX_CHARS = 160
# Raw HTML off: the body quotes what a patient wrote, and an e-mail client must not run it.
_MARKDOWN = MarkdownIt("js-default")


@dataclass(frozen=True)
class Chunk:
    """Alerts that travel together in one robot message, and that message's markdown."""

    messages: tuple[AlertMessage, ...]
    text: str

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(m.idempotency_key for m in self.messages)


def nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def one_line(text: str) -> str:
    return " ".join(text.split())


def local_time(moment: datetime, tz: tzinfo | None) -> str:
    if tz is not None and moment.tzinfo is not None:
        moment = moment.astimezone(tz)
    return moment.strftime("%Y-%m-%d %H:%M")


def render_block(message: AlertMessage, tz: tzinfo | None = None, *, max_bytes: int | None = None) -> str:
    """One alert as markdown: a heading, the body, a quoted line with the case, event, urgency and time, and
    a `ref:` line with the alert's idempotency key, by which a person (or a robot's reader) tells a repeat.

    With `max_bytes`, an alert too long for one robot message loses the end of its body, never its heading or
    its case line, so it still arrives whole rather than split across messages.
    """
    head = f"#### {one_line(message.title)}\n"
    foot = (f"\n> {message.case_id} · {message.event} · {message.urgency} · {local_time(message.created_at, tz)}"
            f"\n> ref: {message.idempotency_key}")
    body = message.body_markdown.strip()
    block = head + body + foot
    if max_bytes is None or nbytes(block) <= max_bytes:
        return block
    budget = max_bytes - nbytes(head) - nbytes(foot) - nbytes(TRUNCATED)
    if budget < 0:
        raise ValueError(f"alert {message.idempotency_key}: title and case line alone exceed {max_bytes} bytes")
    cut = body.encode("utf-8")[:budget].decode("utf-8", errors="ignore")
    return head + cut + TRUNCATED + foot


def pack_markdown(messages: Sequence[AlertMessage], *, max_bytes: int, tz: tzinfo | None = None) -> list[Chunk]:
    """Greedily pack alerts, in order, into as few messages of at most `max_bytes` as fit."""
    chunks: list[Chunk] = []
    group: list[AlertMessage] = []
    text = ""
    for message in messages:
        block = render_block(message, tz, max_bytes=max_bytes)
        joined = text + SEPARATOR + block if group else block
        if group and nbytes(joined) > max_bytes:
            chunks.append(Chunk(tuple(group), text))
            group, joined = [], block
        group.append(message)
        text = joined
    if group:
        chunks.append(Chunk(tuple(group), text))
    return chunks


def batch_key(messages: Sequence[AlertMessage]) -> str:
    """The idempotency key of a batch: the alert's own key for one alert, else a digest of the sorted keys."""
    keys = sorted({m.idempotency_key for m in messages})
    if len(keys) == 1:
        return keys[0]
    return "batch-" + hashlib.sha256("\n".join(keys).encode("utf-8")).hexdigest()[:32]


def message_id(key: str, domain: str) -> str:
    """An RFC 5322 Message-ID that is the same every time the same alert (or batch) is mailed."""
    return f"<{hashlib.sha256(key.encode('utf-8')).hexdigest()[:40]}.pvoice@{domain}>"


def email_subject(messages: Sequence[AlertMessage]) -> str:
    titles = list(dict.fromkeys(one_line(m.title) for m in messages))
    subject = titles[0] if len(messages) == 1 else f"[{len(messages)}] " + "; ".join(titles)
    return subject if len(subject) <= SUBJECT_MAX_CHARS else subject[: SUBJECT_MAX_CHARS - 1] + "…"


def build_email(
    messages: Sequence[AlertMessage], *, sender: str, recipient: str, tz: tzinfo | None, now: datetime
) -> EmailMessage:
    """One e-mail for a batch: plain text (the markdown itself reads fine) with an HTML alternative."""
    key = batch_key(messages)
    blocks = [render_block(m, tz) for m in messages]
    email = EmailMessage()
    email["Subject"] = email_subject(messages)
    email["From"] = sender
    email["To"] = recipient
    email["Date"] = format_datetime(now)
    email["Message-ID"] = message_id(key, parseaddr(sender)[1].rpartition("@")[2] or "pvoice.local")
    email["X-PVoice-Idempotency-Key"] = key
    email["X-PVoice-Alert-Keys"] = ", ".join(m.idempotency_key for m in messages)
    email.set_content("\n\n-----\n\n".join(blocks) + "\n")
    html = "<hr>\n".join(_MARKDOWN.render(block) for block in blocks)
    email.add_alternative(f"<!DOCTYPE html>\n<html><body>\n{html}</body></html>\n", subtype="html")
    return email
