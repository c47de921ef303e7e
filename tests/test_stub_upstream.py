"""The stub upstream speaks well enough for the official `openai` and `anthropic` SDKs, streaming included,
and its ledger counts exactly what it served: the gateway's tests rely on both."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest
from anthropic.types import MessageParam
from openai.types.chat import ChatCompletionMessageParam

from tests.stub_upstream import RunningStub, Served, stub_in_thread, stub_process

PROVIDER_KEY = "sk-provider-upstream"
# 5 input tokens for the stub
ASK: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello in five words"}]
ASK_CLAUDE: list[MessageParam] = [{"role": "user", "content": "Say hello in five words"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[RunningStub]:
    with stub_in_thread() as running:
        yield running


@pytest.fixture
def served(upstream: RunningStub) -> list[Served]:
    """The stub's records, emptied for this test."""
    assert upstream.stub is not None
    upstream.stub.reset()
    return upstream.stub.records


@pytest.fixture
def oai(upstream: RunningStub) -> openai.OpenAI:
    return openai.OpenAI(base_url=upstream.url, api_key=PROVIDER_KEY, max_retries=0)


@pytest.fixture
def claude(upstream: RunningStub) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=upstream.url.removesuffix("/v1"), api_key=PROVIDER_KEY, max_retries=0)


def test_chat_completion_counts_words_and_records_the_key(oai: openai.OpenAI, served: list[Served]) -> None:
    completion = oai.chat.completions.create(model="stub-small", messages=ASK)
    assert completion.choices[0].message.content == "Hello from the stub upstream model here now"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (5, 8)
    [record] = served
    assert (record.id, record.input_tokens, record.output_tokens, record.completed) == (
        completion.id,
        5,
        8,
        True,
    )
    assert record.key == PROVIDER_KEY and record.authorization == f"Bearer {PROVIDER_KEY}"


def test_chat_stream_ends_with_usage_when_asked(oai: openai.OpenAI, served: list[Served]) -> None:
    stream = oai.chat.completions.create(
        model="stub-small-out-3",
        messages=ASK,
        stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-stub-cached-tokens": "2"},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the"
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.prompt_tokens_details.cached_tokens) == (
        5,
        3,
        2,
    )
    assert all(c.usage is None for c in chunks[:-1])
    [record] = served
    assert record.include_usage and record.completed and record.stream


def test_chat_stream_without_usage_has_no_usage_chunk(oai: openai.OpenAI, served: list[Served]) -> None:
    chunks = list(oai.chat.completions.create(model="stub-small", messages=ASK, stream=True))
    assert all(c.choices and c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert not served[0].include_usage and served[0].output_tokens == 8


def test_responses_non_streaming_and_streaming(oai: openai.OpenAI, served: list[Served]) -> None:
    response = oai.responses.create(model="stub-small", input="Say hello", instructions="Be brief")
    assert response.output_text.startswith("Hello from")
    assert response.usage is not None and response.usage.input_tokens == 4
    with oai.responses.stream(
        model="stub-small-reasoning-2", input="Say hello", max_output_tokens=5
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "Hello from the stub upstream"
    assert final.usage is not None and final.usage.output_tokens_details.reasoning_tokens == 2
    assert [(r.api, r.stream, r.output_tokens, r.completed) for r in served] == [
        ("responses", False, 8, True),
        ("responses", True, 5, True),
    ]


def test_embeddings_in_base64_as_the_sdk_asks(oai: openai.OpenAI, served: list[Served]) -> None:
    result = oai.embeddings.create(model="stub-embed", input=["one two", "three"])
    assert [len(item.embedding) for item in result.data] == [8, 8]
    again = oai.embeddings.create(model="stub-embed", input="one two", encoding_format="float")
    assert again.data[0].embedding == pytest.approx(result.data[0].embedding)
    assert result.usage.prompt_tokens == 3 and served[0].api == "embeddings"


def test_models_in_both_dialects(oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    assert [m.id for m in oai.models.list()] == ["stub-small", "stub-large", "stub-embed"]
    assert [m.id for m in claude.models.list()] == ["stub-small", "stub-large", "stub-embed"]


def test_anthropic_message_with_cache_tokens(claude: anthropic.Anthropic, served: list[Served]) -> None:
    message = claude.messages.create(
        model="stub-small-cached-3-cachewrite-1",
        max_tokens=100,
        system="You are terse",
        messages=ASK_CLAUDE,
    )
    assert message.content[0].type == "text" and message.stop_reason == "end_turn"
    usage = message.usage
    # 8 words in all; cache reads and writes are outside Anthropic's input_tokens
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (4, 3, 1)
    assert served[0].key == PROVIDER_KEY  # anthropic 2.x sends it as Authorization: Bearer, not x-api-key


def test_anthropic_stream(claude: anthropic.Anthropic, served: list[Served]) -> None:
    with claude.messages.stream(model="stub-small", max_tokens=2, messages=ASK_CLAUDE) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from"
    assert (final.usage.input_tokens, final.usage.output_tokens, final.stop_reason) == (5, 2, "max_tokens")
    assert served[0].completed and served[0].output_tokens == 2


def test_error_hooks_in_both_dialects(
    oai: openai.OpenAI, claude: anthropic.Anthropic, served: list[Served]
) -> None:
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(model="stub-error-429", messages=ASK)
    with pytest.raises(anthropic.InternalServerError) as error:
        claude.messages.create(model="stub-error-500", max_tokens=5, messages=ASK_CLAUDE)
    assert error.value.status_code == 500
    assert [(r.status, r.completed, r.output_tokens) for r in served] == [(429, False, 0), (500, False, 0)]


def test_delay_header(oai: openai.OpenAI) -> None:
    began = time.perf_counter()
    oai.chat.completions.create(model="stub-small", messages=ASK, extra_headers={"x-stub-delay-ms": "150"})
    assert time.perf_counter() - began >= 0.15


def test_cut_stream_is_not_completed(upstream: RunningStub, served: list[Served]) -> None:
    body = {"model": "stub-small-cut-2", "messages": ASK, "stream": True}
    response = httpx.post(f"{upstream.url}/chat/completions", json=body)
    assert response.text.count("data: ") == 2 and "[DONE]" not in response.text
    assert not served[0].completed


def test_client_hanging_up_leaves_the_stream_incomplete(upstream: RunningStub, served: list[Served]) -> None:
    body = {"model": "stub-small-chunkdelay-50", "messages": ASK, "stream": True}
    with httpx.stream("POST", f"{upstream.url}/chat/completions", json=body) as response:
        next(response.iter_raw())
    time.sleep(0.8)  # the whole stream would have taken 11 chunks x 50 ms
    assert served[0].status == 200 and not served[0].completed


def test_wrong_provider_key_is_refused() -> None:
    with stub_in_thread(require_key=PROVIDER_KEY) as running:
        wrong = openai.OpenAI(base_url=running.url, api_key="sk-meshclaw-client", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.chat.completions.create(model="stub-small", messages=ASK)
        right = openai.OpenAI(base_url=running.url, api_key=PROVIDER_KEY, max_retries=0)
        assert right.chat.completions.create(model="stub-small", messages=ASK).usage is not None


def test_subprocess_stub_reports_and_resets_over_http() -> None:
    with stub_process() as running:
        httpx.post(f"{running.url}/chat/completions", json={"model": "stub-small", "messages": ASK})
        stats = running.stats()
        assert (stats["requests"], stats["input_tokens"], stats["records"][0]["completed"]) == (1, 5, True)
        running.reset()
        assert running.stats(summary=True)["requests"] == 0


def test_x_api_key_is_recorded(upstream: RunningStub, served: list[Served]) -> None:
    body = {"model": "stub-small", "max_tokens": 3, "messages": ASK_CLAUDE}
    httpx.post(f"{upstream.url}/messages", json=body, headers={"x-api-key": PROVIDER_KEY})
    assert (served[0].key, served[0].x_api_key, served[0].authorization) == (PROVIDER_KEY, PROVIDER_KEY, None)
