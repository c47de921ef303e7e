"""The official anthropic SDK against the gateway, unchanged: messages streaming and not, the models
list, cache buckets, and the provider key (not the client's) sent upstream as x-api-key."""

from __future__ import annotations

import anthropic
import pytest

from tests.gateway.conftest import PROVIDER_KEY, Gateway
from tests.postgres import BOTH_BACKENDS


def client(gateway: Gateway, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=key or gateway.person.key, max_retries=0)


@BOTH_BACKENDS
def test_message_is_forwarded_and_metered_once(gateway: Gateway) -> None:
    message = client(gateway).messages.create(
        model="stub-large", max_tokens=100, messages=[{"role": "user", "content": "Say hello in five words"}]
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the stub upstream model here now"
    [row] = gateway.usage(at_least=1)
    assert (row.source, row.status, row.operation, row.provider) == (
        "gateway",
        "ok",
        "messages",
        "stub-anthropic",
    )
    assert (row.input_uncached, row.cache_read, row.cache_write, row.output) == (5, 0, 0, 8)
    assert (row.user_id, row.team_id) == (gateway.person.id, gateway.person.team_id)
    assert row.client is not None and row.client.startswith("Anthropic/Python")
    [served] = gateway.stub.stats()["records"]
    assert served["x_api_key"] == PROVIDER_KEY
    assert served["authorization"] is None


@BOTH_BACKENDS
def test_stream_usage_comes_from_message_start_and_delta(gateway: Gateway) -> None:
    with client(gateway).messages.stream(
        model="stub-large-cached-2-cachewrite-1",
        max_tokens=5,
        messages=[{"role": "user", "content": "one two three four five six"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello from the stub upstream"
    assert final.usage.output_tokens == 5
    [row] = gateway.usage(at_least=1)
    assert (row.status, row.input_uncached, row.cache_read, row.cache_write, row.output) == ("ok", 3, 2, 1, 5)
    assert row.attributes == {"http_status": 200, "stream": True}


def test_models_list_in_anthropic_shape(gateway: Gateway) -> None:
    ids = [model.id for model in client(gateway).models.list()]
    assert "stub-large" in ids and "stub-small" in ids


def test_x_api_key_works_for_openai_routes_too(gateway: Gateway) -> None:
    import httpx

    answer = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"x-api-key": gateway.person.key},
        json={"model": "stub-small", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.status_code == 200, answer.text


def test_count_tokens_is_passed_through_unmetered(gateway: Gateway) -> None:
    # The stub has no count_tokens route: its own 404 coming back shows the request reached the provider.
    with pytest.raises(anthropic.NotFoundError) as failure:
        client(gateway).messages.count_tokens(
            model="stub-large", messages=[{"role": "user", "content": "hi"}]
        )
    assert "no route POST /v1/messages/count_tokens" in str(failure.value)
    with pytest.raises(anthropic.NotFoundError) as unknown:
        client(gateway).messages.count_tokens(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert "GET /v1/models" in str(unknown.value)
    assert gateway.usage() == []
