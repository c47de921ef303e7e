"""An agent to remember things for, on a migrated database (SQLite, or PostgreSQL with BOTH_BACKENDS)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from meshclaw.context import AppContext
from meshclaw.db.models import Agent
from tests.conftest import People

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def add_agent(context: AppContext, org_id: int, owner_user_id: int, name: str = "helper") -> int:
    with context.db.session() as session:
        agent = Agent(
            org_id=org_id, owner_user_id=owner_user_id, name=name, enabled=True, created_at=T0, updated_at=T0
        )
        session.add(agent)
        session.flush()
        return agent.id


@pytest.fixture
def agent_id(context: AppContext, org_id: int, people: People) -> int:
    return add_agent(context, org_id, people.add().id)
