"""Server-sent event passthrough with usage capture.

Upstream bytes are relayed event by event as they arrive (an event is held back only until its closing
blank line, never for the rest of the stream). Only the few events that carry the model or the usage are
JSON-parsed; every other event is matched with a byte search and passed on untouched:

- OpenAI chat: usage arrives in a last chunk with `"choices": []` when `stream_options.include_usage`
  is set. The gateway always sets it upstream; for a client that did not ask, that chunk is dropped and
  the `"usage":null` field the upstream then adds to every chunk is removed.
- OpenAI responses: the `response.completed` (or `.incomplete` / `.failed`) event carries the usage.
- Anthropic messages: `message_start` carries input and cache tokens, `message_delta` the output count.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import orjson


def _data(event: bytes) -> Any:
    """The JSON of an event's `data:` line, or None."""
    start = event.find(b"data:")
    if start < 0:
        return None
    end = event.find(b"\n", start)
    payload = event[start + 5 : end if end >= 0 else len(event)].strip()
    if not payload or payload == b"[DONE]":
        return None
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None


class StreamWatcher(ABC):
    """Sees each complete event; returns the bytes to forward (None drops the event). One subclass per
    API's stream format."""

    def __init__(self) -> None:
        self.usage: dict[str, Any] | None = None
        self.model: str | None = None
        self.completed = False
        self.error: str | None = None

    @abstractmethod
    def see(self, event: bytes) -> bytes | None: ...


class ChatWatcher(StreamWatcher):
    def __init__(self, *, hide_usage: bool) -> None:
        super().__init__()
        self.hide_usage = hide_usage

    def see(self, event: bytes) -> bytes | None:
        if event.startswith(b"data: [DONE]") or event.startswith(b"data:[DONE]"):
            self.completed = True
            return event
        if b'"usage":{' in event or b'"usage": {' in event:
            chunk = _data(event)
            if isinstance(chunk, dict):
                usage = chunk.get("usage")
                if isinstance(usage, dict):
                    self.usage = usage
                self.model = chunk.get("model") or self.model
                if self.hide_usage and not chunk.get("choices"):
                    return None
        elif self.model is None:
            chunk = _data(event)
            if isinstance(chunk, dict):
                if isinstance(chunk.get("model"), str):
                    self.model = chunk["model"]
                if isinstance(chunk.get("error"), dict):
                    self.error = str(chunk["error"].get("message") or "error event")[:300]
        if self.hide_usage:
            event = event.replace(b',"usage":null', b"").replace(b', "usage": null', b"")
        return event


_RESPONSE_ENDS = (b'"response.completed"', b'"response.incomplete"', b'"response.failed"')


class ResponsesWatcher(StreamWatcher):
    def see(self, event: bytes) -> bytes | None:
        if self.model is None and b'"response.created"' in event:
            body = _data(event)
            if isinstance(body, dict) and isinstance(body.get("response"), dict):
                self.model = body["response"].get("model") or None
        elif any(marker in event for marker in _RESPONSE_ENDS):
            body = _data(event)
            if isinstance(body, dict) and isinstance(body.get("response"), dict):
                response = body["response"]
                if isinstance(response.get("usage"), dict):
                    self.usage = response["usage"]
                self.model = response.get("model") or self.model
                self.completed = True
                if body.get("type") == "response.failed":
                    error = response.get("error")
                    message = error.get("message") if isinstance(error, dict) else None
                    self.error = str(message or "the response failed")[:300]
        elif b'"type":"error"' in event or b"event: error" in event:
            body = _data(event)
            self.error = str(body.get("message") if isinstance(body, dict) else "error event")[:300]
        return event


class MessagesWatcher(StreamWatcher):
    def see(self, event: bytes) -> bytes | None:
        if b'"message_start"' in event:
            body = _data(event)
            message = body.get("message") if isinstance(body, dict) else None
            if isinstance(message, dict):
                self.model = message.get("model") or self.model
                if isinstance(message.get("usage"), dict):
                    self.usage = dict(message["usage"])
        elif b'"message_delta"' in event:
            body = _data(event)
            if isinstance(body, dict) and isinstance(body.get("usage"), dict):
                # message_delta's counts are cumulative and replace message_start's.
                self.usage = {
                    **(self.usage or {}),
                    **{k: v for k, v in body["usage"].items() if v is not None},
                }
        elif b'"message_stop"' in event:
            self.completed = True
        elif b'"type":"error"' in event or b"event: error" in event:
            body = _data(event)
            error = body.get("error") if isinstance(body, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            self.error = str(message or "error event")[:300]
        return event


def watcher_for(api_name: str, *, hide_usage: bool) -> StreamWatcher:
    if api_name == "chat.completions":
        return ChatWatcher(hide_usage=hide_usage)
    if api_name == "responses":
        return ResponsesWatcher()
    return MessagesWatcher()


class EventSplitter:
    """Cuts a byte stream into complete SSE events (separated by a blank line)."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n")
        data = self._rest + chunk if self._rest else chunk
        if b"\n\n" not in data:
            self._rest = data
            return []
        *events, self._rest = data.split(b"\n\n")
        return [event for event in events if event]

    def rest(self) -> bytes:
        rest, self._rest = self._rest, b""
        return rest
