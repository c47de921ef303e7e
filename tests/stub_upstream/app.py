"""The stub as a raw ASGI app: routing, the test hooks, token counting, and the ledger of what it served.

No framework: in a benchmark the stub must cost a few hundredths of what the proxy under test does."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import asdict
from typing import Any

import orjson

from tests.stub_upstream.ledger import Api, Served
from tests.stub_upstream.payloads import BODIES, STREAMS, BadRequest, error_body, openai_error, output_limit
from tests.stub_upstream.scripted import Responder, chat_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_MODELS = ("stub-small", "stub-large", "stub-embed")
DEFAULT_OUTPUT_TOKENS = 8
ROUTES: dict[str, Api] = {
    "/v1/chat/completions": "chat.completions",
    "/v1/responses": "responses",
    "/v1/embeddings": "embeddings",
    "/v1/messages": "messages",
}
ID_PREFIXES: dict[Api, str] = {
    "chat.completions": "chatcmpl-",
    "responses": "resp_",
    "embeddings": "emb-",
    "messages": "msg_",
}
HOOK = re.compile(r"(error|delay|chunkdelay|cached|cachewrite|reasoning|out|cut)-(\d+)")
HEADER_HOOKS = {
    b"x-stub-error": "error",
    b"x-stub-delay-ms": "delay",
    b"x-stub-chunk-delay-ms": "chunkdelay",
    b"x-stub-cached-tokens": "cached",
    b"x-stub-cache-write-tokens": "cachewrite",
    b"x-stub-reasoning-tokens": "reasoning",
    b"x-stub-output-tokens": "out",
    b"x-stub-cut-after": "cut",
}
JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]


class Stub:
    """The ASGI app and its ledger. One instance per server; `records` may be read directly in process."""

    def __init__(
        self,
        *,
        models: tuple[str, ...] = DEFAULT_MODELS,
        require_key: str | None = None,
        max_records: int = 1_000_000,
        responder: Responder | None = None,
    ) -> None:
        self.models = models
        self.responder = responder
        """Scripts the chat completions' answers (tests/stub_upstream/scripted.py); None: the eight words."""
        self.require_key = require_key
        self.max_records = max_records
        self.records: list[Served] = []
        self.dropped = 0
        # Ids stay unique across restarts of the stub, so records from two runs never collide.
        self._prefix = secrets.token_hex(4)
        self._counter = 0

    def reset(self) -> None:
        self.records = []
        self.dropped = 0

    def _next_id(self, kind: str) -> str:
        self._counter += 1
        return f"{kind}{self._prefix}{self._counter:09d}"

    def _keep(self, record: Served) -> None:
        if len(self.records) < self.max_records:
            self.records.append(record)
        else:
            self.dropped += 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if method == "GET" and path == "/v1/models":
            await self._models(scope, send)
        elif method == "GET" and path == "/stub/stats":
            await _respond(send, 200, self.stats(summary=b"summary=1" in scope["query_string"]))
        elif method == "POST" and path == "/stub/reset":
            self.reset()
            await _respond(send, 200, {"ok": True})
        elif method == "POST" and path in ROUTES:
            await self._model_call(ROUTES[path], scope, await _body(receive), receive, send)
        else:
            await _respond(send, 404, openai_error(404, f"no route {method} {path}"))

    def stats(self, *, summary: bool) -> dict[str, Any]:
        records = self.records
        totals = {
            "requests": len(records) + self.dropped,
            "recorded": len(records),
            "dropped": self.dropped,
            "ok": sum(1 for r in records if r.status == 200),
            "completed": sum(1 for r in records if r.completed),
            "input_tokens": sum(r.input_tokens for r in records),
            "output_tokens": sum(r.output_tokens for r in records),
        }
        if summary:
            return totals
        return {**totals, "records": [asdict(r) for r in records]}

    async def _models(self, scope: Scope, send: Send) -> None:
        created = 1_700_000_000
        if _header(scope, b"anthropic-version") is not None:
            data: list[dict[str, Any]] = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2024-01-01T00:00:00Z"}
                for m in self.models
            ]
            body: dict[str, Any] = {
                "data": data,
                "has_more": False,
                "first_id": self.models[0],
                "last_id": self.models[-1],
            }
        else:
            data = [{"id": m, "object": "model", "created": created, "owned_by": "stub"} for m in self.models]
            body = {"object": "list", "data": data}
        await _respond(send, 200, body)

    async def _model_call(self, api: Api, scope: Scope, raw: bytes, receive: Receive, send: Send) -> None:
        authorization = _header(scope, b"authorization")
        x_api_key = _header(scope, b"x-api-key")
        key = x_api_key or (authorization or "").removeprefix("Bearer ") or None
        anthropic = api == "messages"
        try:
            request = orjson.loads(raw)
            if not isinstance(request, dict):
                raise ValueError("the body is not a JSON object")
            # Counting brackets first (C speed) keeps the walk off the path of every ordinary request:
            # the stub is the baseline the gateway bench measures against.
            if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _deeper_than(request, MAX_DEPTH):
                raise ValueError(f"the body is nested more than {MAX_DEPTH} levels deep")
        except ValueError as error:
            self._keep(
                Served(
                    id="", api=api, model="", stream=False, status=400, key=key, authorization=authorization
                )
            )
            await _respond(send, 400, error_body(anthropic, 400, f"malformed JSON: {error}"))
            return
        model = str(request.get("model", ""))
        hooks = _hooks(scope, model)
        stream = bool(request.get("stream"))
        record = Served(
            id=self._next_id(ID_PREFIXES[api]), api=api, model=model, stream=stream, status=200,
            key=key, authorization=authorization, x_api_key=x_api_key,
            include_usage=bool((request.get("stream_options") or {}).get("include_usage")),
        )  # fmt: skip
        self._keep(record)
        if hooks.get("delay"):
            await asyncio.sleep(hooks["delay"] / 1000)
        if self.require_key is not None and record.key != self.require_key:
            record.status = 401
            await _respond(send, 401, error_body(anthropic, 401, "the stub did not receive the provider key"))
            return
        if hooks.get("error"):
            record.status = hooks["error"]
            await _respond(
                send, record.status, error_body(anthropic, record.status, f"stub error {record.status}")
            )
            return
        words = _count_words(request)
        if self.responder is not None and api == "chat.completions":
            await self._scripted(self.responder, record, request, words, send)
            return
        try:
            limit = output_limit(request)
        except BadRequest as refusal:
            record.status = 400
            await _respond(send, 400, error_body(anthropic, 400, str(refusal)))
            return
        output = min(hooks.get("out", DEFAULT_OUTPUT_TOKENS), limit or 1 << 30)
        if api == "embeddings":
            output = 0
        record.cached_tokens = min(hooks.get("cached", 0), words)
        record.cache_write_tokens = min(hooks.get("cachewrite", 0), words - record.cached_tokens)
        record.reasoning_tokens = min(hooks.get("reasoning", 0), output)
        record.input_tokens = words - record.cached_tokens - record.cache_write_tokens if anthropic else words
        record.output_tokens = output
        if stream and api != "embeddings":
            events = STREAMS[api](record, request, output)
            await _stream(
                receive,
                send,
                events,
                record,
                chunk_delay=hooks.get("chunkdelay", 0),
                cut_after=hooks.get("cut"),
            )
        else:
            await _respond(send, 200, BODIES[api](record, request, output), request_id=record.id)
            record.completed = True

    async def _scripted(
        self, responder: Responder, record: Served, request: dict[str, Any], words: int, send: Send
    ) -> None:
        if record.stream:
            record.status = 400
            await _respond(
                send, 400, openai_error(400, "the scripted stub answers non-streamed requests only")
            )
            return
        answer = responder(request)
        record.input_tokens, record.output_tokens, record.answer = words, answer.output_tokens, answer.label
        await _respond(send, 200, chat_body(record, answer), request_id=record.id)
        record.completed = True


# ---- request parsing -------------------------------------------------------------------------------------


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _hooks(scope: Scope, model: str) -> dict[str, int]:
    hooks = {name: int(number) for name, number in HOOK.findall(model)}
    for key, value in scope["headers"]:
        if key in HEADER_HOOKS and value.isdigit():
            hooks[HEADER_HOOKS[key]] = int(value)
    return hooks


MAX_DEPTH = 128
"""How deep a request's JSON may nest: providers refuse deeper bodies with a 400, as the stub does."""


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests lists and objects more than `limit` levels deep (walked without recursion,
    so any depth orjson reads is measured)."""
    level: list[Any] = [value]
    for _ in range(limit + 1):
        level = [
            item
            for node in level
            if isinstance(node, dict | list)
            for item in (node.values() if isinstance(node, dict) else node)
        ]
        if not level:
            return False
    return any(isinstance(node, dict | list) for node in level)


def _count_words(request: dict[str, Any]) -> int:
    """Words in every text of the request: the stub's deterministic tokenizer."""
    texts: list[str] = []
    for key in ("system", "instructions", "input", "messages", "prompt"):
        _texts(request.get(key), texts)
    return sum(len(text.split()) for text in texts)


def _texts(value: Any, into: list[str]) -> None:
    if isinstance(value, str):
        into.append(value)
    elif isinstance(value, list):
        for item in value:
            _texts(item, into)
    elif isinstance(value, dict):
        # message {"role", "content"} and content parts {"type": "text"|"input_text", "text"}
        _texts(value.get("content"), into)
        if isinstance(value.get("text"), str):
            into.append(value["text"])


async def _respond(send: Send, status: int, body: dict[str, Any], *, request_id: str | None = None) -> None:
    headers = JSON_HEADERS if request_id is None else [*JSON_HEADERS, (b"x-request-id", request_id.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": orjson.dumps(body)})


async def _stream(
    receive: Receive,
    send: Send,
    events: Iterator[bytes],
    record: Served,
    *,
    chunk_delay: int,
    cut_after: int | None,
) -> None:
    # uvicorn's send() silently drops writes once the client is gone, so a paced stream (chunkdelay) only
    # counts as completed if nobody hung up before its last event: receive() returns http.disconnect when
    # the peer closes. An unpaced stream is written in one go, and watching would cost it 4x its
    # throughput (a pending receive() on the keep-alive connection), so it counts as completed once written.
    hung_up: asyncio.Future[Message] = (
        asyncio.ensure_future(receive()) if chunk_delay else asyncio.get_running_loop().create_future()
    )
    try:
        headers = [*SSE_HEADERS, (b"x-request-id", record.id.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for number, event in enumerate(events):
            if cut_after is not None and number >= cut_after:
                # End the body without the final events: the client sees a truncated stream.
                await send({"type": "http.response.body", "body": b""})
                return
            if chunk_delay:
                await asyncio.sleep(chunk_delay / 1000)
                if hung_up.done():
                    return
            await send({"type": "http.response.body", "body": event, "more_body": True})
        record.completed = not hung_up.done()
        await send({"type": "http.response.body", "body": b""})
    finally:
        hung_up.cancel()
