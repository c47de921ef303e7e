"""The stub's scripted answers (tests/stub_upstream/scripted.py): a responder's tool calls and texts reach
the official `openai` SDK as a real API sends them, billed in the ledger by the stub's tokenizer, and a
streamed request is refused rather than answered unscripted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionToolParam

from tests.stub_upstream import RunningStub, Scripted, ToolCall, stub_in_thread

WEATHER: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def responder(request: dict[str, Any]) -> Scripted:
    """A tool call while the request offers tools and has no tool result yet; then a text."""
    if request.get("tools") and request["messages"][-1]["role"] != "tool":
        return Scripted(tool_calls=(ToolCall(name="weather", arguments={"city": "Oslo"}),))
    return Scripted(text="It rains in Oslo.")


@pytest.fixture(scope="module")
def upstream() -> Iterator[RunningStub]:
    with stub_in_thread(responder=responder) as running:
        yield running


def test_a_responder_answers_with_a_tool_call_then_a_text(upstream: RunningStub) -> None:
    client = openai.OpenAI(base_url=upstream.url, api_key="sk-test", max_retries=0)
    first = client.chat.completions.create(
        model="stub-small", messages=[{"role": "user", "content": "Weather in Oslo?"}], tools=[WEATHER]
    )
    (call,) = first.choices[0].message.tool_calls or []
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.type == "function" and call.function.name == "weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    second = client.chat.completions.create(model="stub-small", tools=[WEATHER], messages=[
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "tool_calls": [{"id": call.id, "type": "function",
                                              "function": {"name": "weather", "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "rain"},
    ])  # fmt: skip
    assert second.choices[0].message.content == "It rains in Oslo." and second.usage is not None
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (
        4,
        4,
    )  # "Weather in Oslo?" + "rain"
    assert upstream.stub is not None
    records = upstream.stub.records[-2:]
    assert [(r.answer, r.input_tokens, r.output_tokens) for r in records] == [
        ("tool:weather", 3, 2),  # the name and '{"city":"Oslo"}', one word each
        ("text", 4, 4),
    ]


def test_a_streamed_request_is_refused_not_answered_unscripted(upstream: RunningStub) -> None:
    client = openai.OpenAI(base_url=upstream.url, api_key="sk-test", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="non-streamed"):
        client.chat.completions.create(
            model="stub-small", messages=[{"role": "user", "content": "hi"}], stream=True
        )
