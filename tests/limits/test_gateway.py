"""Budgets enforced end to end: real budgets in the database, the running server's limiter, the gateway
and the official SDKs against the stub upstream."""

from __future__ import annotations

import anthropic
import openai
import pytest

from meshclaw.limits import store
from meshclaw.limits.admission import Limiter
from tests.gateway import conftest as live
from tests.gateway.conftest import Gateway

# The live server with the stub upstream, from the gateway's tests (here only, so the other budget tests
# do not depend on the gateway's test fixtures).
gateway = live.gateway
gateway_settings = live.gateway_settings

HELLO = [{"role": "user", "content": "hello"}]


def set_budget(
    gateway: Gateway, subject_type: str, ref: str, unit: str, period: str | None, amount: int
) -> None:
    context = gateway.context
    with context.db.session() as session:
        store.set_budget(
            session,
            subject=store.resolve_subject(session, subject_type, ref),
            unit=unit,
            period=period,
            enforcement="hard",
            amount=amount,
            created_by_user_id=None,
            now=context.clock.now(),
        )
    limiter = gateway.app.state.limiter
    assert isinstance(limiter, Limiter)
    limiter.reload()  # what the API does after a change; the CLI's change would arrive within 10 s


def test_requests_per_minute_of_a_person_refuse_the_third_call(gateway: Gateway) -> None:
    set_budget(gateway, "user", "ada@example.org", "requests", "minute", 2)
    client = openai.OpenAI(base_url=gateway.openai_url, api_key=gateway.person.key, max_retries=0)
    for _ in range(2):
        client.chat.completions.create(model="stub-small", messages=HELLO)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="stub-small", messages=HELLO)  # type: ignore[arg-type]
    assert refused.value.code == "rate_limit_exceeded"
    assert "user ada@example.org: 2 requests per minute reached; resets at " in refused.value.message
    assert 1 <= int(refused.value.response.headers["retry-after"]) <= 60
    assert len(gateway.usage(at_least=2)) == 2
    assert gateway.stub.stats()["requests"] == 2


def test_a_team_token_budget_is_spent_then_refused_in_the_anthropic_shape(gateway: Gateway) -> None:
    set_budget(gateway, "team", "Platform", "tokens", "day", 400)
    client = anthropic.Anthropic(base_url=gateway.url, api_key=gateway.person.key, max_retries=0)
    admitted = 0
    with pytest.raises(anthropic.RateLimitError) as refused:
        for _ in range(100):
            client.messages.create(model="stub-large", max_tokens=50, messages=HELLO)  # type: ignore[arg-type]
            admitted += 1
    assert admitted >= 1
    assert refused.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    message = refused.value.body["error"]["message"]  # type: ignore[index]
    assert message.startswith("team Platform: hard budget of 400 tokens per day (UTC) reached; resets at ")
    rows = gateway.usage(at_least=admitted)
    assert len(rows) == admitted
    spent = sum(r.input_uncached + r.cache_read + r.cache_write + r.output + r.reasoning for r in rows)
    assert spent <= 400  # each call reserved its worst case, so the calls admitted fit the budget
