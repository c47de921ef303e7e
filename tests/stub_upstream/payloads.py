"""What the stub answers: OpenAI chat completions, responses and embeddings, Anthropic messages, each as
one JSON body and (except embeddings) as the server-sent events the real API streams, with usage filled in
from the request's `Served` record."""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from tests.stub_upstream.ledger import Api, Served

REPLY_WORDS = ("Hello", "from", "the", "stub", "upstream", "model", "here", "now")


def reply(output: int) -> list[str]:
    """`output` words, one token each; streamed one per chunk."""
    return [REPLY_WORDS[i % len(REPLY_WORDS)] + ("" if i == output - 1 else " ") for i in range(output)]


class BadRequest(ValueError):
    """A request a real provider answers 400 (the stub says why, in the API's error shape)."""


def output_limit(request: dict[str, Any]) -> int | None:
    """The request's cap on output tokens, whichever API's name it goes by; BadRequest for one that is not
    a positive whole number, as OpenAI and Anthropic refuse it."""
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        value = request.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise BadRequest(f"{key} must be a positive integer")
        return value
    return None


def _openai_usage(record: Served) -> dict[str, Any]:
    return {
        "prompt_tokens": record.input_tokens,
        "completion_tokens": record.output_tokens,
        "total_tokens": record.input_tokens + record.output_tokens,
        "prompt_tokens_details": {"cached_tokens": record.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": record.reasoning_tokens, "audio_tokens": 0},
    }


def _responses_usage(record: Served) -> dict[str, Any]:
    return {
        "input_tokens": record.input_tokens,
        "input_tokens_details": {"cached_tokens": record.cached_tokens},
        "output_tokens": record.output_tokens,
        "output_tokens_details": {"reasoning_tokens": record.reasoning_tokens},
        "total_tokens": record.input_tokens + record.output_tokens,
    }


def _anthropic_usage(record: Served, *, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": record.input_tokens,
        "cache_creation_input_tokens": record.cache_write_tokens,
        "cache_read_input_tokens": record.cached_tokens,
        "output_tokens": output_tokens,
    }


def _chat_body(record: Served, request: dict[str, Any], output: int) -> dict[str, Any]:
    message = {"role": "assistant", "content": "".join(reply(output)), "refusal": None}
    return {
        "id": record.id, "object": "chat.completion", "created": int(record.started_at), "model": record.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _finish(request, output)}],
        "usage": _openai_usage(record), "system_fingerprint": None,
    }  # fmt: skip


def _finish(request: dict[str, Any], output: int) -> str:
    limit = output_limit(request)
    return "length" if limit is not None and output >= limit else "stop"


def _chat_stream(record: Served, request: dict[str, Any], output: int) -> Iterator[bytes]:
    head = {"id": record.id, "object": "chat.completion.chunk", "created": int(record.started_at), "model": record.model,
            "system_fingerprint": None}  # fmt: skip
    # OpenAI sends "usage": null on every chunk when usage was asked for, and the usage in a last chunk.
    tail = {"usage": None} if record.include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + orjson.dumps({**head, "choices": [choice], **tail}) + b"\n\n"

    yield chunk({"role": "assistant", "content": "", "refusal": None}, None)
    for word in reply(output):
        yield chunk({"content": word}, None)
    yield chunk({}, _finish(request, output))
    if record.include_usage:
        yield b"data: " + orjson.dumps({**head, "choices": [], "usage": _openai_usage(record)}) + b"\n\n"
    yield b"data: [DONE]\n\n"


def _response_object(record: Served, request: dict[str, Any], output: int, *, done: bool) -> dict[str, Any]:
    text = "".join(reply(output))
    item = {"type": "message", "id": "msg_" + record.id, "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}  # fmt: skip
    return {
        "id": record.id, "object": "response", "created_at": int(record.started_at),
        "status": "completed" if done else "in_progress", "model": record.model, "output": [item] if done else [],
        "usage": _responses_usage(record) if done else None, "error": None, "incomplete_details": None,
        "instructions": request.get("instructions"), "metadata": {}, "parallel_tool_calls": True,
        "temperature": 1.0, "top_p": 1.0, "tool_choice": "auto", "tools": [], "text": {"format": {"type": "text"}},
    }  # fmt: skip


def _responses_body(record: Served, request: dict[str, Any], output: int) -> dict[str, Any]:
    return _response_object(record, request, output, done=True)


def _responses_stream(record: Served, request: dict[str, Any], output: int) -> Iterator[bytes]:
    item_id = "msg_" + record.id
    text = "".join(reply(output))
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    item = {"type": "message", "id": item_id, "status": "in_progress", "role": "assistant", "content": []}
    place = {"item_id": item_id, "output_index": 0, "content_index": 0}
    done = _response_object(record, request, output, done=True)
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response_object(record, request, output, done=False)},
        {"type": "response.in_progress", "response": _response_object(record, request, output, done=False)},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **place, "part": part},
        *(
            {"type": "response.output_text.delta", **place, "delta": word, "logprobs": []}
            for word in reply(output)
        ),
        {"type": "response.output_text.done", **place, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **place, "part": {**part, "text": text}},
        {"type": "response.output_item.done", "output_index": 0, "item": done["output"][0]},
        {"type": "response.completed", "response": done},
    ]
    for number, event in enumerate(events):
        event["sequence_number"] = number
        yield b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def _embeddings_body(record: Served, request: dict[str, Any], output: int) -> dict[str, Any]:
    inputs = request.get("input")
    items = inputs if isinstance(inputs, list) and not all(isinstance(i, int) for i in inputs) else [inputs]
    dimensions = int(request.get("dimensions") or 8)
    data = []
    for index, item in enumerate(items):
        # Deterministic vector from the text, so equal inputs embed equally.
        seed = hashlib.sha256(orjson.dumps(item)).digest()
        vector = [(seed[i % 32] - 128) / 128 for i in range(dimensions)]
        embedding: Any = vector
        if request.get("encoding_format") == "base64":  # the openai SDK asks for base64 by default
            embedding = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    usage = {"prompt_tokens": record.input_tokens, "total_tokens": record.input_tokens}
    return {"object": "list", "data": data, "model": record.model, "usage": usage}


def _messages_body(record: Served, request: dict[str, Any], output: int) -> dict[str, Any]:
    return {
        "id": record.id, "type": "message", "role": "assistant", "model": record.model,
        "content": [{"type": "text", "text": "".join(reply(output))}],
        "stop_reason": _stop_reason(request, output), "stop_sequence": None,
        "usage": _anthropic_usage(record, output_tokens=output),
    }  # fmt: skip


def _stop_reason(request: dict[str, Any], output: int) -> str:
    limit = output_limit(request)
    return "max_tokens" if limit is not None and output >= limit else "end_turn"


def _messages_stream(record: Served, request: dict[str, Any], output: int) -> Iterator[bytes]:
    start = {**_messages_body(record, request, 0), "content": [], "stop_reason": None}
    start["usage"] = _anthropic_usage(
        record, output_tokens=1
    )  # Anthropic reports 1 output token at the start
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}} for w in reply(output)),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": _stop_reason(request, output), "stop_sequence": None},
         "usage": {"output_tokens": output}},
        {"type": "message_stop"},
    ]  # fmt: skip
    for event in events:
        yield b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def openai_error(status: int, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_exceeded"}.get(
        status, "server_error"
    )
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def error_body(anthropic: bool, status: int, message: str) -> dict[str, Any]:
    if not anthropic:
        return openai_error(status, message)
    kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
            429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")  # fmt: skip
    return {"type": "error", "error": {"type": kind, "message": message}}


Builder = Callable[[Served, dict[str, Any], int], dict[str, Any]]
BODIES: dict[Api, Builder] = {
    "chat.completions": _chat_body,
    "responses": _responses_body,
    "embeddings": _embeddings_body,
    "messages": _messages_body,
}
STREAMS: dict[Api, Callable[[Served, dict[str, Any], int], Iterator[bytes]]] = {
    "chat.completions": _chat_stream,
    "responses": _responses_stream,
    "messages": _messages_stream,
}
