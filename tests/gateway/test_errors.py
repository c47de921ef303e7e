"""Bad input and failures: each a clear status in the shape of the API called, metered only when the call
reached a provider, and then exactly once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import anthropic
import httpx
import openai
import pytest
from sqlalchemy import update

from meshclaw.db.models import ApiKey
from meshclaw.identity import store
from meshclaw.limits.admission import Limiter, LimitExceeded, Subject, Ticket
from meshclaw.providers.registry import add_provider
from tests.conftest import free_port
from tests.gateway.conftest import PROVIDER_KEY, Gateway, post


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    return {"gateway_timeout_s": 1.0, "max_body_bytes": 64 * 1024}


def sdk(gateway: Gateway, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.openai_url, api_key=key or gateway.person.key, max_retries=0)


def claude(gateway: Gateway, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=key or gateway.person.key, max_retries=0)


HELLO = [{"role": "user", "content": "hello"}]


def test_missing_and_unknown_keys_are_401_in_each_apis_shape(gateway: Gateway) -> None:
    answer = post(gateway, "/v1/chat/completions", {"model": "stub-small", "messages": HELLO})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "missing_api_key"
    with pytest.raises(openai.AuthenticationError) as failure:
        sdk(gateway, "mc_nope_notakey").chat.completions.create(model="stub-small", messages=HELLO)  # type: ignore[arg-type]
    assert failure.value.code == "invalid_api_key"
    with pytest.raises(anthropic.AuthenticationError) as refused:
        claude(gateway, "mc_nope_notakey").messages.create(model="stub-large", max_tokens=5, messages=HELLO)  # type: ignore[arg-type]
    assert refused.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": refused.value.body["error"]["message"]},  # type: ignore[index]
    }
    assert gateway.usage() == []


def test_a_key_revoked_in_this_process_stops_working_at_once(gateway: Gateway) -> None:
    client = sdk(gateway)
    client.chat.completions.create(model="stub-small", messages=HELLO)  # type: ignore[arg-type]
    with gateway.context.db.session() as session:
        key = store.find_live_key(session, gateway.person.key, now=gateway.context.clock.now())
        assert key is not None
        store.revoke_key(session, key, now=gateway.context.clock.now())
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="stub-small", messages=HELLO)  # type: ignore[arg-type]


def test_a_key_revoked_elsewhere_stops_working_within_seconds(gateway: Gateway) -> None:
    client = sdk(gateway)
    client.chat.completions.create(model="stub-small", messages=HELLO)  # type: ignore[arg-type]
    # A plain UPDATE, as the CLI or another server process would do it: no ORM event reaches the gateway.
    with gateway.context.db.session() as session:
        session.execute(update(ApiKey).values(revoked_at=gateway.context.clock.now()))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            client.chat.completions.create(model="stub-small", messages=HELLO)  # type: ignore[arg-type]
        except openai.AuthenticationError:
            return
        time.sleep(0.1)
    pytest.fail("a revoked key still worked after 5 s")


def test_last_used_time_is_written_in_the_background(gateway: Gateway) -> None:
    sdk(gateway).chat.completions.create(model="stub-small", messages=HELLO)  # type: ignore[arg-type]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with gateway.context.db.session() as session:
            key = store.find_live_key(session, gateway.person.key, now=gateway.context.clock.now())
            if key is not None and key.last_used_at is not None:
                return
        time.sleep(0.1)
    pytest.fail("last_used_at was not written within 5 s")


def test_a_key_without_the_gateway_scope_is_403(gateway: Gateway) -> None:
    reader = gateway.people.add(scopes=["api:read"])
    with pytest.raises(openai.PermissionDeniedError) as failure:
        sdk(gateway, reader.key).chat.completions.create(model="stub-small", messages=HELLO)  # type: ignore[arg-type]
    assert "gateway scope" in failure.value.message


def test_unknown_model_is_404_model_not_found(gateway: Gateway) -> None:
    with pytest.raises(openai.NotFoundError) as failure:
        sdk(gateway).chat.completions.create(model="gpt-nonexistent", messages=HELLO)  # type: ignore[arg-type]
    assert failure.value.code == "model_not_found"
    assert "GET /v1/models" in failure.value.message
    assert gateway.usage() == []


def test_malformed_json_missing_model_and_wrong_api_are_400(gateway: Gateway) -> None:
    key = gateway.person.key
    bad = post(gateway, "/v1/chat/completions", b'{"model": "stub-small", "messages": [', key=key)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
    no_model = post(gateway, "/v1/chat/completions", {"messages": HELLO}, key=key)
    assert no_model.status_code == 400 and no_model.json()["error"]["code"] == "missing_model"
    with pytest.raises(openai.BadRequestError) as wrong:
        sdk(gateway).chat.completions.create(model="stub-large", messages=HELLO)  # type: ignore[arg-type]
    assert "POST /v1/messages" in wrong.value.message
    with pytest.raises(anthropic.BadRequestError) as other_way:
        claude(gateway).messages.create(model="stub-small", max_tokens=5, messages=HELLO)  # type: ignore[arg-type]
    assert "/v1/chat/completions" in str(other_way.value)
    assert gateway.usage() == []


def test_oversized_bodies_are_413(gateway: Gateway) -> None:
    big = b'{"model": "stub-small", "messages": [{"role": "user", "content": "' + b"x" * 70_000 + b'"}]}'
    key = gateway.person.key
    by_length = post(gateway, "/v1/chat/completions", big, key=key)
    assert by_length.status_code == 413, by_length.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for start in range(0, len(big), 8192):
            yield big[start : start + 8192]

    streamed = httpx.post(
        f"{gateway.url}/v1/messages", content=chunks(), headers={"x-api-key": key}, timeout=10
    )
    assert streamed.status_code == 413, streamed.text
    assert streamed.json()["error"]["type"] == "request_too_large"
    assert gateway.usage() == []


class RefusingLimiter(Limiter):
    def admit(
        self, subject: Subject, *, reserve_tokens: int, reserve_cost_microusd: int, now: datetime
    ) -> Ticket:
        raise LimitExceeded(
            limit="hard budget of 1.00 USD per day", scope="user ada@example.org",
            reset_at=now + timedelta(hours=2), now=now, unit="usd",
        )  # fmt: skip


class CountingLimiter(Limiter):
    def __init__(self) -> None:
        super().__init__()
        self.admitted: list[tuple[Subject, int]] = []
        self.settled: list[int] = []

    def admit(
        self, subject: Subject, *, reserve_tokens: int, reserve_cost_microusd: int, now: datetime
    ) -> Ticket:
        self.admitted.append((subject, reserve_tokens))
        settled = self.settled

        class Counted(Ticket):
            def settle(self, *, tokens: int, cost_microusd: int, now: datetime) -> None:
                super().settle(tokens=tokens, cost_microusd=cost_microusd, now=now)
                settled.append(tokens)

        return Counted()


def test_a_limit_is_429_with_retry_after_and_the_limit_named(gateway: Gateway) -> None:
    gateway.app.state.limiter = RefusingLimiter()
    with pytest.raises(openai.RateLimitError) as failure:
        sdk(gateway).chat.completions.create(model="stub-small", messages=HELLO)  # type: ignore[arg-type]
    assert failure.value.code == "budget_exceeded"
    assert failure.value.body["type"] == "rate_limit_error"  # type: ignore[index]
    assert "hard budget of 1.00 USD per day" in failure.value.message and "resets at" in failure.value.message
    assert 7100 <= int(failure.value.response.headers["retry-after"]) <= 7200
    with pytest.raises(anthropic.RateLimitError) as refused:
        claude(gateway).messages.create(model="stub-large", max_tokens=5, messages=HELLO)  # type: ignore[arg-type]
    assert refused.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    assert gateway.usage() == [] and gateway.stub.stats()["requests"] == 0


def test_admission_reserves_the_output_cap_and_settles_the_real_tokens_once(gateway: Gateway) -> None:
    limiter = CountingLimiter()
    gateway.app.state.limiter = limiter
    sdk(gateway).chat.completions.create(model="stub-small", messages=HELLO, max_tokens=300)  # type: ignore[arg-type]
    [(subject, reserved)] = limiter.admitted
    assert (subject.user_id, subject.team_id, subject.api_key_id) == (
        gateway.person.id, gateway.person.team_id, gateway.usage(at_least=1)[0].api_key_id,
    )  # fmt: skip
    assert reserved >= 300
    assert limiter.settled == [1 + 8]


@pytest.mark.parametrize(("model", "error"), [("stub-small-error-500", openai.InternalServerError),
                                               ("stub-small-error-429", openai.RateLimitError)])  # fmt: skip
def test_upstream_errors_pass_through_and_are_metered_as_failed(
    gateway: Gateway, model: str, error: type[openai.APIStatusError]
) -> None:
    with pytest.raises(error) as failure:
        sdk(gateway).chat.completions.create(model=model, messages=HELLO)  # type: ignore[arg-type]
    assert "stub error" in failure.value.message
    [row] = gateway.usage(at_least=1)
    assert row.status == "error" and row.error is not None and "stub error" in row.error
    assert row.attributes == {"http_status": failure.value.status_code}
    assert gateway.stub.stats()["requests"] == 1


def test_anthropic_upstream_overload_passes_through(gateway: Gateway) -> None:
    with pytest.raises(anthropic.APIStatusError) as failure:
        claude(gateway).messages.create(model="stub-large-error-529", max_tokens=5, messages=HELLO)  # type: ignore[arg-type]
    assert failure.value.status_code == 529
    [row] = gateway.usage(at_least=1)
    assert row.status == "error"


def test_upstream_timeout_is_504_and_metered_failed(gateway: Gateway) -> None:
    with pytest.raises(openai.InternalServerError) as failure:
        sdk(gateway).chat.completions.create(model="stub-small-delay-3000", messages=HELLO)  # type: ignore[arg-type]
    assert failure.value.status_code == 504 and failure.value.code == "upstream_timeout"
    [row] = gateway.usage(at_least=1)
    assert row.status == "error" and row.attributes == {"http_status": 504}


def test_unreachable_provider_is_502_and_metered_failed(gateway: Gateway) -> None:
    with gateway.context.db.session() as session:
        add_provider(session, name="dead", kind="openai", base_url=f"http://127.0.0.1:{free_port()}/v1",
                     api_key_env="MESHCLAW_TEST_STUB_KEY", models=["dead-model"], now=gateway.context.clock.now())  # fmt: skip
    gateway.app.state.provider_routes.reload()
    with pytest.raises(openai.APIStatusError) as failure:
        sdk(gateway).chat.completions.create(model="dead-model", messages=HELLO)  # type: ignore[arg-type]
    assert failure.value.status_code == 502
    assert PROVIDER_KEY not in failure.value.message
    [row] = gateway.usage(at_least=1)
    assert row.status == "error" and row.provider == "dead"


def test_a_stream_cut_by_the_provider_is_metered_failed(gateway: Gateway) -> None:
    stream = sdk(gateway).chat.completions.create(model="stub-small-cut-3", messages=HELLO, stream=True)  # type: ignore[arg-type]
    list(stream)
    [row] = gateway.usage(at_least=1)
    assert row.status == "error" and "ended before" in (row.error or "")


def test_a_client_hanging_up_mid_stream_is_metered_once_as_cancelled(gateway: Gateway) -> None:
    body = {"model": "stub-small-chunkdelay-200-out-50", "messages": HELLO, "stream": True}
    with httpx.stream("POST", f"{gateway.url}/v1/chat/completions", json=body,
                      headers={"authorization": f"Bearer {gateway.person.key}"}, timeout=10) as answer:  # fmt: skip
        assert answer.status_code == 200
        for _ in answer.iter_raw():
            break
    [row] = gateway.usage(at_least=1)
    time.sleep(0.5)
    assert len(gateway.usage()) == 1
    assert row.status == "cancelled"


def test_otlp_receivers_are_not_the_gateways(gateway: Gateway) -> None:
    answer = httpx.post(f"{gateway.url}/v1/logs", content=b"{}", headers={"content-type": "application/json"})
    assert answer.status_code == 401
    assert "ingest" in answer.text
