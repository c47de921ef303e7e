"""A small organization with known usage, recorded through the real Recorder and flushed.

Teams: Engineering > Platform, and Sales. People: an admin, an auditor, a manager of Engineering, a
member of Engineering, a report in Platform and an outsider in Sales. Prices are added through the API
first, so costs are computed by the recorder exactly as in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from meshclaw.metering.events import Source, TokenBuckets, UsageEvent
from meshclaw.metering.recorder import Recorder
from tests.conftest import People, Person

DAY1 = datetime(2026, 11, 20, tzinfo=UTC)
DAY2 = datetime(2026, 11, 21, tzinfo=UTC)

# USD per million tokens.
GPT = {"model": "gpt-4o", "input_uncached": 2.5, "output": 10.0, "cache_read": 1.25}
CLAUDE = {
    "model": "claude-sonnet-4",
    "input_uncached": 3.0,
    "output": 15.0,
    "cache_read": 0.3,
    "cache_write": 3.75,
}


@dataclass
class Org:
    client: TestClient
    people: People
    admin: Person
    auditor: Person
    manager: Person
    member: Person
    report: Person
    outsider: Person
    eng: int
    platform: int
    sales: int

    @property
    def recorder(self) -> Recorder:
        recorder = self.client.app.state.recorder  # type: ignore[attr-defined]
        assert isinstance(recorder, Recorder)
        return recorder

    def record(
        self,
        person: Person | None,
        started_at: datetime,
        *,
        model: str = "gpt-4o",
        source: Source = "gateway",
        client: str | None = "curl/8",
        status: str = "ok",
        agent_id: int | None = None,
        **tokens: int,
    ) -> UsageEvent:
        event = UsageEvent(
            source=source,
            started_at=started_at,
            ended_at=started_at + timedelta(milliseconds=250),
            status=status,  # type: ignore[arg-type]
            error="upstream timed out" if status == "error" else None,
            provider="openai" if model.startswith("gpt") else "anthropic",
            requested_model=model,
            model=model,
            tokens=TokenBuckets(**tokens),
            user_id=person.id if person else None,
            agent_id=agent_id,
            run_id="run-1" if agent_id else None,
            api_key_id=None,
            client=client,
            initiator="automation" if agent_id else "human",
            raw_usage={"prompt_tokens": sum(tokens.values())},
        )
        self.recorder.record_usage(event)
        return event

    def flush(self) -> None:
        self.recorder.flush(timeout=30)


def build_org(client: TestClient, people: People) -> Org:
    eng = people.team("Engineering")
    platform = people.team("Platform", parent_id=eng)
    sales = people.team("Sales")
    org = Org(
        client=client,
        people=people,
        admin=people.add(Role.ADMIN, email="admin@example.org"),
        auditor=people.add(Role.AUDITOR, email="auditor@example.org"),
        manager=people.add(Role.MANAGER, team_id=eng, email="manager@example.org"),
        member=people.add(Role.MEMBER, team_id=eng, email="member@example.org"),
        report=people.add(Role.MEMBER, team_id=platform, email="report@example.org"),
        outsider=people.add(Role.MEMBER, team_id=sales, email="outsider@example.org"),
        eng=eng,
        platform=platform,
        sales=sales,
    )
    for price in (GPT, CLAUDE):
        answer = client.post(
            "/api/v1/prices", json={**price, "effective_from": "2026-01-01T00:00:00Z"}, headers=org.admin.auth
        )
        assert answer.status_code == 201, answer.text
    return org


@pytest.fixture
def org(client: TestClient, people: People) -> Org:
    return build_org(client, people)


@pytest.fixture
def recorded(org: Org) -> Org:
    """Eight known calls over two days (see the expectations in the tests)."""
    # member: 3 calls on gpt-4o (one failed), 1 on claude through an agent, all on day 1 and 2.
    org.record(org.member, DAY1 + timedelta(hours=9, minutes=5), input_uncached=1000, output=500)
    org.record(
        org.member, DAY1 + timedelta(hours=9, minutes=40), input_uncached=2000, cache_read=4000, output=100
    )
    org.record(org.member, DAY2 + timedelta(hours=14), status="error", input_uncached=10)
    org.record(
        org.member,
        DAY2 + timedelta(hours=15),
        model="claude-sonnet-4",
        source="agent",
        client=None,
        agent_id=7,
        input_uncached=300,
        cache_write=2000,
        cache_read=1000,
        output=800,
        reasoning=200,
    )
    # report (Platform): 2 calls; outsider (Sales): 1; manager: 1 through OTLP from Claude Code.
    org.record(org.report, DAY1 + timedelta(hours=11), input_uncached=500, output=50)
    org.record(org.report, DAY2 + timedelta(hours=8), model="claude-sonnet-4", input_uncached=100, output=100)
    org.record(org.outsider, DAY1 + timedelta(hours=12), input_uncached=7000, output=7000)
    org.record(
        org.manager,
        DAY2 + timedelta(hours=16),
        model="claude-sonnet-4",
        source="otlp",
        client="claude-code",
        input_uncached=40,
        output=60,
    )
    org.flush()
    return org
