"""End to end through the real provider path: an agent's model calls go through the gateway in process
(the runtime's OpenAI or Anthropic SDK client -> ASGI transport -> gateway -> the stub upstream), and each
call the stub served is one UsageEvent with source agent, attributed to the agent, its owner and the run,
and admitted against the agent's budgets."""

from __future__ import annotations

from datetime import datetime, timedelta

from meshclaw.agents.runtime.contract import RunResult
from meshclaw.agents.runtime.default_gate import DefaultGate
from meshclaw.agents.runtime.loop import execute
from meshclaw.agents.runtime.testing import RecordingSink
from meshclaw.gateway.agent_models import GatewayModels
from meshclaw.limits.admission import Limiter, LimitExceeded, Subject, Ticket
from meshclaw.tools.registry import ToolRegistry
from tests.agents.runtime.conftest import agent, request, run
from tests.gateway.conftest import Gateway, gateway, gateway_settings

__all__ = ["gateway", "gateway_settings"]  # fixtures used here

REPLY = "Hello from the stub upstream model here now"


def go(
    gw: Gateway, model: str, *, run_id: str = "run-1", mode: str = "unattended"
) -> tuple[RunResult, RecordingSink]:
    sink = RecordingSink()
    req = request(agent(model={"name": model}), run_id=run_id, owner_user_id=gw.person.id,
                  team_id=gw.person.team_id, mode=mode)  # fmt: skip
    models = GatewayModels(gw.app.state.gateway)
    result = run(execute(req, sink=sink, gate=DefaultGate(), tools=ToolRegistry(), model_factory=models))
    return result, sink


def test_openai_kind_model_calls_are_metered_as_the_agents(gateway: Gateway) -> None:
    results = [go(gateway, "stub-small", run_id=f"run-{n}")[0] for n in range(3)]
    assert [(r.status, r.output) for r in results] == [("succeeded", REPLY)] * 3
    assert gateway.stub.stats()["requests"] == 3
    rows = gateway.usage(at_least=3)
    assert len(rows) == 3
    for n, row in enumerate(rows):
        assert (row.source, row.agent_id, row.user_id, row.team_id, row.run_id) == (
            "agent", 7, gateway.person.id, gateway.person.team_id, f"run-{n}")  # fmt: skip
        assert (row.initiator, row.api_key_id, row.status, row.provider) == ("automation", None, "ok", "stub")
        assert row.output == 8 and row.input_uncached > 0
    assert results[0].usage.requests == 1 and results[0].usage.tokens.output == 8


def test_anthropic_kind_model_and_an_attended_run(gateway: Gateway) -> None:
    result, sink = go(gateway, "stub-large", mode="attended")
    assert (result.status, result.output) == ("succeeded", REPLY)
    [row] = gateway.usage(at_least=1)
    assert (row.source, row.operation, row.agent_id, row.initiator) == ("agent", "messages", 7, "human")
    assert sink.models[0].tokens.output == 8
    assert gateway.stub.stats()["records"][0]["authorization"] is None or "mcrun_" not in str(
        gateway.stub.stats()["records"][0]
    ), "the run credential never reaches a provider"


def test_a_model_no_provider_serves_fails_saying_how_to_add_one(gateway: Gateway) -> None:
    result, _ = go(gateway, "gpt-nobody-serves")
    assert result.status == "failed" and result.error is not None
    assert "meshclaw providers add NAME --kind" in result.error and "gpt-nobody-serves" in result.error
    assert gateway.stub.stats()["requests"] == 0


class Recording(Limiter):
    def __init__(self, refuse: bool = False) -> None:
        super().__init__()
        self.subjects: list[Subject] = []
        self.refuse = refuse

    def admit(
        self, subject: Subject, *, reserve_tokens: int, reserve_cost_microusd: int, now: datetime
    ) -> Ticket:
        self.subjects.append(subject)
        if self.refuse:
            raise LimitExceeded(limit="hard budget of 1.00 USD per day", scope="agent 7",
                                reset_at=now + timedelta(hours=2), now=now, unit="usd")  # fmt: skip
        return super().admit(
            subject, reserve_tokens=reserve_tokens, reserve_cost_microusd=reserve_cost_microusd, now=now
        )


def test_the_agent_owner_and_team_budgets_apply(gateway: Gateway) -> None:
    limiter = Recording()
    gateway.app.state.limiter = limiter
    go(gateway, "stub-small")
    [subject] = limiter.subjects
    assert (subject.agent_id, subject.user_id, subject.team_id, subject.api_key_id) == (
        7, gateway.person.id, gateway.person.team_id, None)  # fmt: skip


def test_a_budget_refusal_ends_the_run_budget_exceeded(gateway: Gateway) -> None:
    gateway.app.state.limiter = Recording(refuse=True)
    result, _ = go(gateway, "stub-small")
    assert result.status == "budget_exceeded"
    assert result.error is not None and "hard budget of 1.00 USD per day" in result.error
    assert gateway.stub.stats()["requests"] == 0 and gateway.usage() == []
