"""Structured JSON logs, with secrets in URLs and personal identifiers masked before anything is written."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone

from pvoice.serving.masking import mask_pii

# uvicorn's `color_message` repeats `msg` with terminal colours
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName",
                                                                        "color_message"}
# query parameters that authenticate a request: robot access tokens (DingTalk access_token, WeCom key), signatures
# and the timestamps signed with them, passwords; their values never reach a log line
_SECRET_PARAM = re.compile(
    r"([?&;](?:[\w.-]*(?:token|sign|signature|secret|key|password|passwd|pwd|auth|ticket|credential|timestamp|"
    r"session|code)[\w.-]*)=)[^&#\s\"'<>]*", re.IGNORECASE)
# Feishu/Lark and Slack robots carry their token in the path rather than the query
_PATH_TOKEN = re.compile(r"(/(?:hook|hooks|services|webhook)/)[\w/-]{8,}", re.IGNORECASE)
# libraries that log every request with its full URL at INFO
_CHATTY = ("httpx", "httpcore")


def redact_secrets(text: str) -> str:
    """`text` with the values of secret-bearing URL parameters (and robot tokens in hook paths) replaced by ***."""
    if "=" in text:
        text = _SECRET_PARAM.sub(r"\1***", text)
    if "/" in text:
        text = _PATH_TOKEN.sub(r"\1***", text)
    return text


def scrub(text: str) -> str:
    """What a log line may carry: secrets redacted first (a token is not left half-masked), then identifiers."""
    return mask_pii(redact_secrets(text))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class MaskingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def configure_logging(*, json_logs: bool, level: str) -> None:
    """Route the service's and uvicorn's loggers through one handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_logs else MaskingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # the request middleware logs each request; uvicorn's access line would log it twice
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # alembic announces its backend every time /readyz asks for the schema revision
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs "HTTP Request: POST <robot URL with its access token>" at INFO; failures are logged by the worker
    for name in _CHATTY:
        logging.getLogger(name).setLevel(logging.WARNING)
