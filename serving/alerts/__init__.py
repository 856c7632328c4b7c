"""Alert delivery channels: the senders the outbox worker calls, one per channel."""

from pvoice.serving.alerts.channels import (
    DeliveryError,
    DingTalkSender,
    EmailSender,
    Sender,
    WebhookSender,
    WeComSender,
    build_senders,
    close_senders,
    dingtalk_sign,
    dingtalk_signed_url,
    idempotency_headers,
    parse_retry_after,
    webhook_signature,
)
from pvoice.serving.alerts.message import CHANNELS, AlertMessage
from pvoice.serving.alerts.formatting import batch_key, message_id, pack_markdown, render_block
from pvoice.serving.alerts.ratelimit import DatabaseWindowLimiter, SlidingWindowLimiter

__all__ = [
    "CHANNELS",
    "AlertMessage",
    "DatabaseWindowLimiter",
    "DeliveryError",
    "DingTalkSender",
    "EmailSender",
    "Sender",
    "SlidingWindowLimiter",
    "WeComSender",
    "WebhookSender",
    "batch_key",
    "build_senders",
    "close_senders",
    "dingtalk_sign",
    "dingtalk_signed_url",
    "idempotency_headers",
    "message_id",
    "pack_markdown",
    "parse_retry_after",
    "render_block",
    "webhook_signature",
]
