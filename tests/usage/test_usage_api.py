"""GET /api/v1/usage and /api/v1/usage/summary against eight known calls (tests/usage/conftest.py),
recorded through the real Recorder, on SQLite and PostgreSQL.

Expected costs, in micro-USD, from the prices in conftest.py (USD per million tokens):
  member   d1 09:05 gpt-4o   1000 in, 500 out                         2500 + 5000        =  7500
  member   d1 09:40 gpt-4o   2000 in, 4000 cache read, 100 out        5000 + 5000 + 1000 = 11000
  member   d2 14:00 gpt-4o   10 in (failed)                                                   25
  member   d2 15:00 claude   300 in, 1000 cr, 2000 cw, 800 out, 200 reasoning (agent 7)  = 23700
  report   d1 11:00 gpt-4o   500 in, 50 out                                              =  1750
  report   d2 08:00 claude   100 in, 100 out                                             =  1800
  outsider d1 12:00 gpt-4o   7000 in, 7000 out                                           = 87500
  manager  d2 16:00 claude   40 in, 60 out (otlp, claude-code)                           =  1020
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.postgres import BOTH_BACKENDS
from tests.usage.conftest import DAY1, DAY2, Org

BUCKET_NAMES = ("input_uncached", "cache_read", "cache_write", "output", "reasoning")


def get(org: Org, path: str, person: Any = None) -> Any:
    answer = org.client.get(path, headers=(person or org.admin).auth)
    assert answer.status_code == 200, answer.text
    return answer.json()


def by_key(summary: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    return {group["key"]: group for group in summary["groups"]}


@BOTH_BACKENDS
def test_summary_by_user_matches_the_recorded_calls(recorded: Org) -> None:
    summary = get(recorded, "/api/v1/usage/summary?group_by=user")
    groups = by_key(summary)
    member = groups[recorded.member.id]
    assert member == {
        "key": recorded.member.id,
        "label": "member@example.org",
        "period_start": None,
        "requests": 4,
        "errors": 1,
        "input_uncached": 3310,
        "cache_read": 5000,
        "cache_write": 2000,
        "output": 1400,
        "reasoning": 200,
        "total_tokens": 11910,
        "cost_usd": 0.042225,
    }
    assert groups[recorded.report.id]["cost_usd"] == 0.00355
    assert groups[recorded.outsider.id]["cost_usd"] == 0.0875
    assert groups[recorded.manager.id]["cost_usd"] == 0.00102
    # Most expensive first, and the totals are the sum of the groups.
    assert [g["key"] for g in summary["groups"]] == [
        recorded.outsider.id,
        recorded.member.id,
        recorded.report.id,
        recorded.manager.id,
    ]
    assert summary["totals"]["requests"] == 8
    assert summary["totals"]["errors"] == 1
    assert summary["totals"]["cost_usd"] == 0.134295
    assert summary["totals"]["total_tokens"] == sum(g["total_tokens"] for g in summary["groups"])


@BOTH_BACKENDS
def test_summary_by_team_source_client_agent_and_model(recorded: Org) -> None:
    teams = by_key(get(recorded, "/api/v1/usage/summary?group_by=team"))
    # The team is the one the person was in at the time of the call.
    assert {k: (g["label"], g["requests"], g["cost_usd"]) for k, g in teams.items()} == {
        recorded.eng: ("Engineering", 5, 0.043245),
        recorded.platform: ("Platform", 2, 0.00355),
        recorded.sales: ("Sales", 1, 0.0875),
    }
    sources = by_key(get(recorded, "/api/v1/usage/summary?group_by=source"))
    assert {k: g["requests"] for k, g in sources.items()} == {"gateway": 6, "agent": 1, "otlp": 1}
    clients = by_key(get(recorded, "/api/v1/usage/summary?group_by=client"))
    assert {k: g["requests"] for k, g in clients.items()} == {"curl/8": 6, None: 1, "claude-code": 1}
    agents = by_key(get(recorded, "/api/v1/usage/summary?group_by=agent"))
    assert {k: g["requests"] for k, g in agents.items()} == {7: 1, None: 7}
    assert agents[7]["cache_write"] == 2000 and agents[7]["reasoning"] == 200
    assert agents[7]["label"] == "agent 7"  # known only from its usage: no such agent is defined
    models = by_key(get(recorded, "/api/v1/usage/summary?group_by=model&source=gateway"))
    assert {k: (g["requests"], g["cost_usd"]) for k, g in models.items()} == {
        "gpt-4o": (5, 0.107775),
        "claude-sonnet-4": (1, 0.0018),
    }


@BOTH_BACKENDS
def test_summary_series_per_day_and_hour(recorded: Org) -> None:
    days = get(recorded, "/api/v1/usage/summary?group_by=source&series=true&source=gateway")
    assert [(g["period_start"], g["requests"], g["cost_usd"]) for g in days["groups"]] == [
        ("2026-11-20T00:00:00Z", 4, 0.10775),
        ("2026-11-21T00:00:00Z", 2, 0.001825),
    ]
    hours = get(
        recorded, f"/api/v1/usage/summary?group_by=user&series=true&period=hour&user={recorded.member.id}"
    )
    assert [(g["period_start"], g["requests"]) for g in hours["groups"]] == [
        ("2026-11-20T09:00:00Z", 2),
        ("2026-11-21T14:00:00Z", 1),
        ("2026-11-21T15:00:00Z", 1),
    ]


@BOTH_BACKENDS
def test_summary_rounds_the_window_to_whole_buckets_and_says_so(recorded: Org) -> None:
    # 15:30 is rounded down to 15:00 with hourly rollups: the 15:00 and 16:00 calls count.
    hourly = get(recorded, "/api/v1/usage/summary?group_by=user&period=hour&since=2026-11-21T15:30:00Z")
    assert hourly["since"] == "2026-11-21T15:00:00Z"
    assert hourly["totals"]["requests"] == 2
    # With daily rollups the same since means the whole day: four calls.
    daily = get(recorded, "/api/v1/usage/summary?group_by=user&since=2026-11-21T15:30:00Z")
    assert daily["since"] == "2026-11-21T00:00:00Z"
    assert daily["totals"]["requests"] == 4
    # until is exclusive and rounded up: 09:10 covers the whole 09:00 hour (both morning calls).
    morning = get(recorded, "/api/v1/usage/summary?group_by=user&period=hour&until=2026-11-20T09:10:00Z")
    assert morning["until"] == "2026-11-20T10:00:00Z"
    assert morning["totals"]["requests"] == 2
    # A date alone is midnight UTC; an offset is honoured.
    first_day = get(recorded, "/api/v1/usage/summary?group_by=user&since=2026-11-20&until=2026-11-21")
    assert first_day["totals"]["requests"] == 4
    shifted = get(
        recorded, "/api/v1/usage/summary?group_by=user&period=hour&since=2026-11-21T17:00:00%2B02:00"
    )
    assert shifted["since"] == "2026-11-21T15:00:00Z"
    assert shifted["totals"]["requests"] == 2


@BOTH_BACKENDS
def test_event_list_items_and_filters(recorded: Org) -> None:
    page = get(recorded, "/api/v1/usage?limit=100")
    items = page["items"]
    assert len(items) == 8 and page["next_cursor"] is None
    starts = [item["started_at"] for item in items]
    assert starts == sorted(starts, reverse=True)
    agent_call = next(item for item in items if item["agent_id"] == 7)
    assert agent_call == {
        **agent_call,
        "latency_ms": 250,
        "status": "ok",
        "error": None,
        "provider": "anthropic",
        "model": "claude-sonnet-4",
        "requested_model": "claude-sonnet-4",
        "input_uncached": 300,
        "cache_read": 1000,
        "cache_write": 2000,
        "output": 800,
        "reasoning": 200,
        "total_tokens": 4300,
        "cost_usd": 0.0237,
        "user_id": recorded.member.id,
        "user_email": "member@example.org",
        "team_id": recorded.eng,
        "run_id": "run-1",
        "client": None,
        "source": "agent",
        "initiator": "automation",
        "started_at": "2026-11-21T15:00:00Z",
        "ended_at": "2026-11-21T15:00:00.250000Z",
    }
    # Attribution and measurements only: no prompt, response, hash or raw usage object.
    assert not {"prompt", "response", "prompt_hash", "raw_usage", "attributes"} & agent_call.keys()
    failed = next(item for item in items if item["status"] == "error")
    assert failed["error"] == "upstream timed out"

    def ids(query: str) -> list[str]:
        return [item["id"] for item in get(recorded, f"/api/v1/usage?{query}")["items"]]

    member_ids = {item["id"] for item in items if item["user_id"] == recorded.member.id}
    assert set(ids("user=member@example.org")) == member_ids
    assert set(ids(f"user={recorded.member.id}")) == member_ids
    assert len(ids(f"team={recorded.platform}")) == 2
    assert len(ids("team=Engineering")) == 5
    assert len(ids("agent=7")) == 1
    assert len(ids("source=otlp")) == 1
    assert len(ids("model=claude-sonnet-4")) == 3
    # Raw events are filtered to the exact instant, not rounded like the rollups.
    assert len(ids("since=2026-11-21T15:30:00Z")) == 1
    assert len(ids("since=2026-11-20T09:06:00Z&until=2026-11-20T11:00:00Z")) == 1
    assert len(ids("source=gateway&model=gpt-4o&user=member@example.org")) == 3


@BOTH_BACKENDS
def test_keyset_pagination_walks_every_event_once(recorded: Org) -> None:
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        path = "/api/v1/usage?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = get(recorded, path)
        pages += 1
        seen.extend(page["items"])
        if pages == 1:
            # A call arriving after the first page (newer than everything) must not shift the next pages.
            recorded.record(recorded.outsider, DAY2 + timedelta(hours=23), input_uncached=1)
            recorded.flush()
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [len(seen[i : i + 3]) for i in (0, 3, 6)] == [3, 3, 2]
    assert len({item["id"] for item in seen}) == 8
    keys = [(item["started_at"], item["id"]) for item in seen]
    assert [k[0] for k in keys] == sorted((k[0] for k in keys), reverse=True)
    # Filters and the cursor combine.
    first = get(recorded, "/api/v1/usage?limit=1&user=member@example.org")
    second = get(recorded, f"/api/v1/usage?limit=1&user=member@example.org&cursor={first['next_cursor']}")
    assert second["items"][0]["user_id"] == recorded.member.id
    assert second["items"][0]["started_at"] < first["items"][0]["started_at"]


def test_events_with_the_same_start_are_paged_by_id(org: Org) -> None:
    moment = DAY1 + timedelta(hours=3)
    for _ in range(5):
        org.record(org.member, moment, input_uncached=1)
    org.flush()
    seen = []
    cursor = ""
    while True:
        page = get(org, f"/api/v1/usage?limit=2{cursor}")
        seen += [item["id"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert len(seen) == 5 == len(set(seen))


def assert_bad_request(client: TestClient, org: Org, path: str, *, field: str, says: str) -> None:
    answer = client.get(path, headers=org.admin.auth)
    assert answer.status_code == 400, (path, answer.text)
    error = answer.json()["error"]
    assert error["code"] == "bad_request"
    assert error["field"] == field
    assert says in error["message"], error["message"]


def test_bad_input_is_400_with_what_to_send_instead(org: Org) -> None:
    client = org.client
    cases = [
        ("/api/v1/usage?since=yesterday", "since", "ISO 8601"),
        ("/api/v1/usage/summary?until=2026-13-01", "until", "ISO 8601"),
        ("/api/v1/usage?since=2026-11-02&until=2026-11-01", "since", "earlier than until"),
        ("/api/v1/usage/summary?group_by=color", "group_by", "user, team, agent, model, client, source"),
        ("/api/v1/usage/summary?period=week", "period", "hour, day"),
        ("/api/v1/usage?source=email", "source", "gateway, agent, otlp, import"),
        ("/api/v1/usage?cursor=not-a-cursor", "cursor", "next_cursor"),
        ("/api/v1/usage?cursor=WzEsMl0", "cursor", "next_cursor"),  # valid base64 of [1,2]
        ("/api/v1/usage?limit=0", "limit", "between 1 and 1000"),
        ("/api/v1/usage?limit=5000", "limit", "between 1 and 1000"),
        ("/api/v1/usage?user=bob", "user", "id or an email"),
        ("/api/v1/usage?agent=seven", "agent", "number"),
        ("/api/v1/usage?agent=99999999999999999999", "agent", "number"),
        ("/api/v1/usage?user=%C2%B2", "user", "id or an email"),  # a Unicode digit is not an id
        # A well-formed cursor whose id no database could hold: ["2026-01-01T00:00:00+00:00", 10**20].
        (
            "/api/v1/usage?cursor=WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwxMDAwMDAwMDAwMDAwMDAwMDAwMDBd",
            "cursor",
            "next_cursor",
        ),
    ]
    for path, field, says in cases:
        assert_bad_request(client, org, path, field=field, says=says)


def test_unknown_people_and_teams_are_404_for_those_who_could_see_them(org: Org) -> None:
    for path, field in (
        ("/api/v1/usage?user=nobody@example.org", "user"),
        ("/api/v1/usage?user=999999", "user"),
        ("/api/v1/usage?user=99999999999999999999999", "user"),
        ("/api/v1/usage/summary?team=Marketing", "team"),
    ):
        answer = org.client.get(path, headers=org.admin.auth)
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"]["field"] == field


def test_no_usage_is_an_empty_answer_not_an_error(org: Org) -> None:
    summary = get(org, "/api/v1/usage/summary?group_by=model")
    assert summary["groups"] == []
    assert summary["totals"]["requests"] == 0 and summary["totals"]["cost_usd"] == 0
    assert get(org, "/api/v1/usage") == {"items": [], "next_cursor": None, "limit": 100}


def test_agents_are_named_with_their_owner(org: Org) -> None:
    """Two people's agents may share a name; a table by agent tells them apart by owner."""
    ids = []
    for person in (org.member, org.report):
        created = org.client.post("/api/v1/agents", headers=person.auth, json={"spec": {"name": "triage"}})
        assert created.status_code == 201, created.text
        ids.append(created.json()["agent"]["id"])
        org.record(person, DAY1, agent_id=ids[-1], input_uncached=10)
    org.flush()
    agents = by_key(get(org, "/api/v1/usage/summary?group_by=agent"))
    assert agents[ids[0]]["label"] == "triage (member@example.org)"
    assert agents[ids[1]]["label"] == "triage (report@example.org)"
