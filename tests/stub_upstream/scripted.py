"""Scripted answers: a test hook that decides what the stub's chat completions say, from the request.

The stub's own answer is always the same eight words, which is what the gateway's tests need. A scenario
test that drives agents through the real provider path needs a model that answers like one: a tool call
(one of the request's `tools`, including pydantic-ai's structured-output tool `final_result`) or a text,
chosen by rules over the request. A `Responder` is that rule: it gets the request body as sent and returns
a `Scripted` answer. The stub still bills it in its ledger (input tokens: the request's words; output
tokens: the words of the answer, at least one) and records what it answered (`Served.answer`), so a test
can reconcile MeshClaw's usage records against it and see which rule fired.

Only non-streamed chat completions are scripted (MeshClaw's runtime does not stream); a streamed request
to a scripted stub gets a 400, so a change that starts streaming fails loudly instead of going unscripted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from tests.stub_upstream.ledger import Served


@dataclass(frozen=True, kw_only=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Scripted:
    """One answer: a text, or tool calls (then `text` is usually None, as models send them)."""

    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def output_tokens(self) -> int:
        """The stub's tokenizer: whitespace-separated words of the text and of each call's JSON arguments."""
        words = len((self.text or "").split())
        words += sum(
            len(call.name.split()) + len(orjson.dumps(call.arguments).split()) for call in self.tool_calls
        )
        return max(words, 1)

    @property
    def label(self) -> str:
        """What the ledger shows: `text` or `tool:<name>,<name>`."""
        if self.tool_calls:
            return "tool:" + ",".join(call.name for call in self.tool_calls)
        return "text"


Responder = Callable[[dict[str, Any]], Scripted]
"""Decides the answer to one chat completions request (the parsed JSON body)."""


def chat_body(record: Served, answer: Scripted) -> dict[str, Any]:
    """The OpenAI chat completion for a scripted answer, billed from `record`."""
    calls = [
        {"id": f"call_{record.id}_{number}", "type": "function",
         "function": {"name": call.name, "arguments": orjson.dumps(call.arguments).decode()}}
        for number, call in enumerate(answer.tool_calls)
    ]  # fmt: skip
    message: dict[str, Any] = {"role": "assistant", "content": answer.text, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    usage = {
        "prompt_tokens": record.input_tokens,
        "completion_tokens": record.output_tokens,
        "total_tokens": record.input_tokens + record.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }
    return {
        "id": record.id, "object": "chat.completion", "created": int(record.started_at), "model": record.model,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": usage, "system_fingerprint": None,
    }  # fmt: skip
