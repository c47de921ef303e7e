"""The official openai SDK against the gateway, unchanged: chat completions, responses, embeddings and
the models list, streaming and not; each call metered once with the right buckets and attribution, and
the upstream given the provider's key, never the client's."""

from __future__ import annotations

import base64

import httpx
import openai
import pytest

from tests.gateway.conftest import PROVIDER_KEY, Gateway
from tests.postgres import BOTH_BACKENDS


def client(gateway: Gateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_url, api_key=key or gateway.person.key, max_retries=0)


@BOTH_BACKENDS
def test_chat_completion_is_forwarded_and_metered_once(gateway: Gateway) -> None:
    answer = client(gateway).chat.completions.create(
        model="stub-small", messages=[{"role": "user", "content": "Say hello in five words"}]
    )
    assert answer.choices[0].message.content == "Hello from the stub upstream model here now"
    assert answer.usage is not None and answer.usage.prompt_tokens == 5
    [row] = gateway.usage(at_least=1)
    assert (row.source, row.status, row.operation, row.provider) == ("gateway", "ok", "chat", "stub")
    assert (row.requested_model, row.model) == ("stub-small", "stub-small")
    assert (row.input_uncached, row.cache_read, row.output, row.reasoning) == (5, 0, 8, 0)
    assert (row.user_id, row.team_id, row.api_key_id) == (
        gateway.person.id,
        gateway.person.team_id,
        row.api_key_id,
    )
    assert row.api_key_id is not None
    assert row.client is not None and row.client.startswith("OpenAI/Python")
    assert row.prompt_hash and len(row.prompt_hash) == 32
    assert row.raw_usage is not None and row.raw_usage["completion_tokens"] == 8
    [served] = gateway.stub.stats()["records"]
    assert served["authorization"] == f"Bearer {PROVIDER_KEY}"
    assert gateway.person.key not in str(served)


def test_cached_and_reasoning_tokens_go_to_their_own_buckets(gateway: Gateway) -> None:
    client(gateway).chat.completions.create(
        model="stub-small-cached-3-reasoning-2",
        messages=[{"role": "user", "content": "one two three four five"}],
    )
    [row] = gateway.usage(at_least=1)
    assert (row.input_uncached, row.cache_read, row.output, row.reasoning) == (2, 3, 6, 2)


@BOTH_BACKENDS
def test_stream_hides_usage_from_a_client_that_did_not_ask_but_meters_it(gateway: Gateway) -> None:
    chunks = list(
        client(gateway).chat.completions.create(
            model="stub-small", messages=[{"role": "user", "content": "Say hello"}], stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from the stub upstream model here now"
    assert all(c.choices for c in chunks), "the usage chunk (no choices) must not reach this client"
    assert all(c.usage is None for c in chunks)
    assert all("usage" not in c.model_dump(exclude_unset=True) for c in chunks)
    [served] = gateway.stub.stats()["records"]
    assert served["include_usage"] is True
    [row] = gateway.usage(at_least=1)
    assert (row.status, row.input_uncached, row.output) == ("ok", 2, 8)
    assert row.attributes == {"http_status": 200, "stream": True}


def test_stream_keeps_usage_for_a_client_that_asked(gateway: Gateway) -> None:
    chunks = list(
        client(gateway).chat.completions.create(
            model="stub-small",
            messages=[{"role": "user", "content": "Say hello"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 8
    [row] = gateway.usage(at_least=1)
    assert (row.input_uncached, row.output) == (2, 8)


def test_responses_non_streaming_and_streaming(gateway: Gateway) -> None:
    sdk = client(gateway)
    response = sdk.responses.create(model="stub-small", input="one two three")
    assert response.output_text == "Hello from the stub upstream model here now"
    with sdk.responses.stream(model="stub-small", input="one two") as stream:
        final = stream.get_final_response()
    assert final.usage is not None and final.usage.output_tokens == 8
    first, second = gateway.usage(at_least=2)
    assert (first.operation, first.input_uncached, first.output) == ("responses", 3, 8)
    assert (second.operation, second.input_uncached, second.output, second.status) == (
        "responses",
        2,
        8,
        "ok",
    )


def test_embeddings(gateway: Gateway) -> None:
    answer = client(gateway).embeddings.create(model="stub-embed", input=["alpha beta", "gamma"])
    assert len(answer.data) == 2 and len(answer.data[0].embedding) == 8
    raw = client(gateway).embeddings.create(model="stub-embed", input="alpha", encoding_format="base64")
    assert base64.b64decode(str(raw.data[0].embedding))
    first, second = gateway.usage(at_least=2)
    assert (first.operation, first.input_uncached, first.output) == ("embeddings", 3, 0)
    assert second.input_uncached == 1


def test_models_list_and_retrieve(gateway: Gateway) -> None:
    sdk = client(gateway)
    ids = [model.id for model in sdk.models.list()]
    assert "stub-small" in ids and "stub-large" in ids and ids == sorted(ids)
    assert sdk.models.retrieve("stub-small").owned_by == "stub"
    assert gateway.usage() == []  # listing models is not a model call


def test_gateway_calls_are_counted_in_the_prometheus_metrics(gateway: Gateway) -> None:
    client(gateway).chat.completions.create(model="stub-small", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.NotFoundError):
        client(gateway).chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    text = httpx.get(f"{gateway.url}/metrics").text
    assert 'meshclaw_gateway_calls_total{api="chat.completions",status="200"} 1.0' in text
    assert 'meshclaw_gateway_calls_total{api="chat.completions",status="404"} 1.0' in text
    assert 'meshclaw_gateway_call_duration_seconds_count{api="chat.completions"} 2.0' in text
