"""Logging setup: human-readable lines or one JSON object per line, with secrets scrubbed on the way out.

Scrubbing is a last line of defence: code must not log secrets in the first place, but if a URL with a
token or an Authorization header slips into a message, the formatter masks it before it is written.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime

import orjson

_SECRET_PATTERNS = (
    re.compile(r"mc_[A-Za-z0-9]{6,}_[A-Za-z0-9_\-]{8,}"),  # MeshClaw API keys
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/\-]{8,}=*"),
    re.compile(r"(?i)((?:password|secret|token|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
    re.compile(r"sk-[A-Za-z0-9_\-]{12,}"),  # upstream provider keys
    re.compile(r"/setup/[A-Za-z0-9_\-]{16,}"),
    # OAuth/OIDC callback URLs carry one-time codes and tokens in the query string (e.g. an access log).
    re.compile(r"(?i)([?&](?:code|state|id_token|access_token|refresh_token)=)[^&\s\"']+"),
)


def scrub(text: str) -> str:
    """Mask anything that looks like a credential."""
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
        else:
            text = pattern.sub("[redacted]", text)
    return text


class _ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any `extra={...}` fields."""

    _RESERVED = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in self._RESERVED and not key.startswith("_"):
                payload[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            payload["exception"] = scrub(self.formatException(record.exc_info))
        return orjson.dumps(payload, default=str).decode()


def configure_logging(*, level: str = "info", json_lines: bool = False) -> None:
    """Route MeshClaw's and uvicorn's logs through one scrubbing handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else _ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
