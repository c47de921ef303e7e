"""/org, where everyone lands: besides who they are, what waits for their decision, their agents and their
own model use over the last week (from the rollups, nobody else's)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from meshclaw.metering.events import TokenBuckets, UsageEvent
from meshclaw.metering.recorder import Recorder
from tests.runs.records import save_agent
from tests.web.conftest import WebPeople, WebPerson, signed_in


def record(client: TestClient, context: AppContext, person: WebPerson, days_ago: int, cost: float) -> None:
    recorder = client.app.state.recorder  # type: ignore[attr-defined]
    assert isinstance(recorder, Recorder)
    at = context.clock.now() - timedelta(days=days_ago)
    recorder.record_usage(
        UsageEvent(source="gateway", started_at=at, ended_at=at + timedelta(seconds=1), model="gpt-4o",
                   tokens=TokenBuckets(input_uncached=1000, output=234), cost_usd=cost, user_id=person.id)
    )  # fmt: skip
    recorder.flush(timeout=30)


def cards(page: str) -> str:
    return " ".join(page.split('<div class="cards">', 1)[1].split())


def test_the_overview_shows_a_persons_agents_and_their_own_use_this_week(
    client: TestClient, context: AppContext, org_id: int, web_people: WebPeople
) -> None:
    member, other = web_people.add(), web_people.add()
    signed_in(client, member)
    empty = cards(client.get("/org").text)
    assert '<h2>Your agents</h2></header> <p class="figure">0</p> <p class="muted">none yet</p>' in empty
    assert '<a href="/agents/new">Create an agent</a>' in empty
    assert "nothing waits for you" in empty and "$0.00" in empty

    save_agent(context, org_id, member, "triage")
    save_agent(context, org_id, member, "digest")
    save_agent(context, org_id, other, "theirs")
    record(client, context, member, 0, 1.25)
    record(client, context, member, 6, 0.5)  # the seventh day back is still in the week
    record(client, context, member, 8, 100.0)  # older: not counted
    record(client, context, other, 0, 100.0)  # someone else's: not counted
    page = cards(client.get("/org").text)
    assert '<h2>Your agents</h2></header> <p class="figure">2</p> <p class="muted">2 enabled</p>' in page
    assert '<a href="/agents">See your agents</a>' in page
    assert (
        '<p class="figure">$1.75</p> <p class="muted">2 requests, 2,468 tokens in the last 7 days</p>' in page
    )
