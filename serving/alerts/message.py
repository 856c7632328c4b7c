"""The alert message: what the service hands to a sender, independent of how it travels."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

CHANNELS = ("wecom", "dingtalk", "webhook", "email")
# Keys travel in HTTP and mail headers, so they are printable ASCII without spaces.
_KEY = re.compile(r"[!-~]{1,200}")


@dataclass(frozen=True)
class AlertMessage:
    idempotency_key: str  # stable per (case, event); receivers de-duplicate on it
    channel: str  # "wecom" | "dingtalk" | "webhook" | "email"
    target: str  # webhook URL, or e-mail address
    title: str
    body_markdown: str  # already masked for PII by the caller
    case_id: str
    event: str  # "opened" | "escalated" | "reminder" | "praise" | ...
    urgency: str
    created_at: datetime  # a naive time is taken as UTC, as the service stores times

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            object.__setattr__(self, "created_at", self.created_at.replace(tzinfo=timezone.utc))
        if self.channel not in CHANNELS:
            raise ValueError(f"channel {self.channel!r} is not one of {', '.join(CHANNELS)}")
        if not _KEY.fullmatch(self.idempotency_key):
            raise ValueError(
                f"idempotency_key {self.idempotency_key!r} must be 1-200 printable ASCII characters without spaces"
            )
