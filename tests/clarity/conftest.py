"""A hand-built organization for Clarity, its usage, outcomes and activity recorded through the real
Recorder (journal, writer, rollups) and flushed before anything is read.

`World` records deterministic patterns: `steady` people (a few irregular working-hour calls a day and
outcomes in proportion), a genuine heavy user (ten times the calls and ten times the outcomes), and
the tokenmaxxers each detector test adds. Calls are gpt-4o with 2,000 input and 500 output tokens:
4,000 effective tokens each (`clarity.measures`).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from meshclaw.metering.events import ActivityEvent, Initiator, OutcomeEvent, Status, TokenBuckets, UsageEvent
from meshclaw.metering.recorder import Recorder
from tests.conftest import People, Person

WEEK = date(2026, 11, 9)
"""A Monday; the week most tests score."""
CALL_EFFECTIVE_TOKENS = 4000.0


class World:
    def __init__(self, context: AppContext, people: People, recorder: Recorder) -> None:
        self.context = context
        self.people = people
        self.recorder = recorder
        self.random = random.Random(8)
        self._hash = 0
        self.team = people.team("Builders")
        self.people_added: list[Person] = []

    def person(self, email: str, *, role: Role = Role.MEMBER, team_id: int | None = None) -> Person:
        person = self.people.add(role, team_id=team_id or self.team, email=email)
        self.people_added.append(person)
        return person

    def _unique_hash(self) -> str:
        self._hash += 1
        return f"{self._hash:032x}"

    def call(
        self,
        person: Person | None,
        at: datetime,
        *,
        prompt_hash: str | None = None,
        status: Status = "ok",
        initiator: Initiator = "human",
        client: str = "claude-code",
        agent_id: int | None = None,
        session_id: str | None = None,
        attributes: dict[str, Any] | None = None,
        input_tokens: int = 2000,
        output_tokens: int = 500,
    ) -> None:
        self.recorder.record_usage(
            UsageEvent(
                source="agent" if agent_id else "otlp",
                started_at=at,
                ended_at=at + timedelta(seconds=2),
                status=status,
                model="gpt-4o",
                tokens=TokenBuckets(input_uncached=input_tokens, output=output_tokens),
                user_id=person.id if person else None,
                agent_id=agent_id,
                client=client,
                initiator="automation" if agent_id else initiator,
                prompt_hash=prompt_hash or self._unique_hash(),
                session_id=session_id,
                attributes=attributes,
            )
        )

    def working_hours(self, week: date, days: int, calls_per_day: int) -> list[datetime]:
        """Irregular times between 09:00 and 18:00 on the first `days` days of the week."""
        moments: list[datetime] = []
        for day in range(days):
            base = datetime(week.year, week.month, week.day, 9, tzinfo=UTC) + timedelta(days=day)
            offsets = sorted(self.random.uniform(0, 9 * 3600) for _ in range(calls_per_day))
            moments.extend(base + timedelta(seconds=offset) for offset in offsets)
        return moments

    def outcome(
        self,
        person: Person | None,
        at: datetime,
        kind: str = "commit.created",
        *,
        accepted: bool | None = None,
        quantity: float = 1.0,
        agent_id: int | None = None,
    ) -> None:
        self.recorder.record_outcome(
            OutcomeEvent(
                type=kind,
                occurred_at=at,
                source="agent" if agent_id else "otlp",
                quantity=quantity,
                accepted=accepted,
                user_id=person.id if person else None,
                agent_id=agent_id,
            )
        )

    def activity(self, person: Person, at: datetime, name: str, **attributes: Any) -> None:
        self.recorder.record_activity(
            ActivityEvent(name=name, occurred_at=at, source="otlp", user_id=person.id, attributes=attributes)
        )

    def steady(self, person: Person, week: date = WEEK, *, days: int = 3, calls_per_day: int = 10) -> None:
        """A normal week: irregular calls on a few days, one commit per 2.5 calls (yield 0.1 per 1k),
        some reading and writing tools, decisions mostly accepted."""
        moments = self.working_hours(week, days, calls_per_day)
        for moment in moments:
            self.call(person, moment, session_id=f"{person.email}-{moment.date()}")
        for index, moment in enumerate(moments[::5]):
            self.outcome(person, moment, "commit.created", quantity=1)
            if index % 3 == 0:
                self.outcome(person, moment, "pull_request.created")
            self.outcome(person, moment, "code_edit.decided", accepted=index % 4 != 0)
        for moment in moments[::3]:
            self.activity(person, moment, "claude_code.tool_result", tool_name="Read", success=True)
            self.activity(person, moment, "claude_code.tool_result", tool_name="Edit", success=True)

    def flush(self) -> None:
        self.recorder.flush(timeout=60)


@pytest.fixture
def recorder(context: AppContext, tmp_path: Path) -> Iterator[Recorder]:
    recorder = Recorder(context.db, journal_dir=tmp_path / "journal")
    recorder.start()
    yield recorder
    recorder.close()


@pytest.fixture
def world(context: AppContext, people: People, recorder: Recorder) -> World:
    return World(context, people, recorder)
