"""A crossed soft budget notifies the people it concerns: through a real gateway call, the limiter's
background thread stores the alert and hands it to the notifying sink."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import select

from meshclaw.db.models import Notification
from meshclaw.identity.principal import Role
from meshclaw.limits.store import resolve_subject, set_budget
from tests.gateway.conftest import Gateway, gateway, gateway_settings

__all__ = ["gateway", "gateway_settings"]  # fixtures used here


def test_a_crossed_soft_budget_notifies_the_person_and_the_teams_managers(gateway: Gateway) -> None:
    context, person = gateway.context, gateway.person
    assert person.team_id is not None
    manager = gateway.people.add(Role.MANAGER, team_id=person.team_id)
    with context.db.session() as session:
        for subject, ref in (("user", person.id), ("team", person.team_id)):
            set_budget(session, subject=resolve_subject(session, subject, ref), unit="tokens", period="day",
                       enforcement="soft", amount=5, created_by_user_id=None, now=context.clock.now())  # fmt: skip
    gateway.app.state.limiter.reload()
    chat = {"model": "stub-small", "messages": [{"role": "user", "content": "hello"}]}
    answer = httpx.post(f"{gateway.openai_url}/chat/completions", json=chat,
                        headers={"authorization": f"Bearer {person.key}"}, timeout=10)  # fmt: skip
    assert answer.status_code == 200  # soft: never refuses

    deadline = time.monotonic() + 15
    while True:
        with context.db.session() as session:
            notes = sorted((n.user_id, n.kind, n.text.split(" crossed")[0], n.link)
                           for n in session.scalars(select(Notification)).all())  # fmt: skip
        if len(notes) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    soft = "soft budget of 5 tokens per day (UTC)"
    assert notes == sorted([
        (person.id, "budget.soft_crossed", f"user ada@example.org: {soft}", "/budgets"),
        (manager.id, "budget.soft_crossed", f"team Platform: {soft}", "/budgets"),
    ])  # fmt: skip
