"""Which text of a request is fingerprinted for repetition analysis (only its hash is stored).

The last user turn, not the whole conversation: every turn of a chat resends the history, so a hash of
the history would never repeat, while "the same question over and over" is the signal wanted.
"""

from __future__ import annotations

from typing import Any

from meshclaw.metering.prompt_hash import prompt_hash

MAX_CHARS = 20_000


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


def _last_user(messages: Any) -> str:
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role", "user") == "user":
                return _text(message.get("content"))
    return ""


def request_prompt_hash(operation: str, request: dict[str, Any]) -> str | None:
    if operation in ("chat", "messages"):
        text = _last_user(request.get("messages"))
    elif operation == "responses":
        given = request.get("input")
        text = given if isinstance(given, str) else _last_user(given)
    else:  # embeddings: the input itself
        given = request.get("input")
        text = (
            given
            if isinstance(given, str)
            else _text(
                [{"text": item} for item in given if isinstance(item, str)]
                if isinstance(given, list)
                else None
            )
        )
    return prompt_hash(text[:MAX_CHARS]) if text else None
