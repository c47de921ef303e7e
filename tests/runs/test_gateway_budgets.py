"""The gateway's budgets apply to agent runs: an agent's model calls go through the gateway in process, so
a hard budget of its owner or the owner's team refuses them, and the run ends `budget_exceeded` naming the
budget (not `failed`), and its owner is notified. Real server, real runs engine and agent runtime, the
stub upstream as the provider."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from meshclaw.db.models import Notification
from meshclaw.limits.store import resolve_subject, set_budget
from meshclaw.runs import store
from meshclaw.runs.engine import RunEngine
from tests.gateway.conftest import Gateway, gateway, gateway_settings
from tests.runs.records import save_agent, wait_final

__all__ = ["gateway", "gateway_settings"]  # fixtures used here


@pytest.mark.parametrize(("subject", "named"), [("user", "user ada@example.org"), ("team", "team Platform")])
def test_a_run_over_its_owners_or_teams_hard_budget_ends_budget_exceeded_naming_it(
    gateway: Gateway, subject: str, named: str
) -> None:
    context, person = gateway.context, gateway.person
    with context.db.session() as session:
        ref = person.id if subject == "user" else person.team_id
        assert ref is not None
        set_budget(session, subject=resolve_subject(session, subject, ref), unit="tokens", period="day",
                   enforcement="hard", amount=10, created_by_user_id=None, now=context.clock.now())  # fmt: skip
    gateway.app.state.limiter.reload()
    agent_id = save_agent(context, gateway.people.org_id, person, "digest", model={"name": "stub-small"})
    engine = gateway.app.state.runs
    assert isinstance(engine, RunEngine)
    run_id = engine.start_run(agent_id, trigger_kind="manual", input_text="summarize")
    assert run_id is not None

    assert wait_final(context, run_id, timeout=60) == "budget_exceeded"
    with context.db.session() as session:
        run = store.get_run(session, run_id)
        assert run is not None and run.error is not None
        assert run.error.startswith(
            f"a budget refused the model call: {named}: hard budget of 10 tokens per day"
        )
        notes = session.scalars(select(Notification).where(Notification.user_id == person.id)).all()
        assert [(n.kind, n.link) for n in notes] == [("run.budget_exceeded", f"/runs/{run_id}")]
    assert gateway.stub.stats()["requests"] == 0
