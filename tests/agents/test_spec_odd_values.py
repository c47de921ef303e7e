"""Odd values anywhere in an agent definition (every leaf of a full one: names, instructions, the model,
tool grants and their scopes, MCP servers, triggers, limits, dreaming, settings) are refused with a 4xx
that names the field, or saved as what they mean, never a 500.

A full, valid definition is sent through `POST /api/v1/agents` with one leaf at a time set to each odd
value (null, the wrong type, empty or very long strings, +-2**70, non-finite numbers, control characters)."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.conftest import People

ODD: list[Any] = [None, "", "x" * 5000, 2**70, -(2**70), -1, 0, 1e308, math.inf, math.nan, [], {}, True,
                  "ü🙂\u202e\x00"]  # fmt: skip
FULL: dict[str, Any] = {
    "name": "odd",
    "purpose": "test",
    "instructions": "be brief",
    "model": {"name": "stub-small", "provider": None},
    "tools": [{"tool": "time_get_now", "account": None, "scopes": {"recipients": ["example.org"]}}],
    "mcp_servers": [{"name": "files", "command": ["echo", "hi"], "env": {"TOKEN": "vault:tok"},
                     "timeout_seconds": 30}],
    "skills": ["summarize"],
    "triggers": [{"kind": "cron", "cron": "0 7 * * 1-5", "timezone": "Europe/Berlin"},
                 {"kind": "interval", "every_seconds": 3600},
                 {"kind": "once", "at": "2030-01-01T00:00:00Z"},
                 {"kind": "event", "event": "email.received", "match": {"from": "a@example.org"},
                  "text_matches": "urgent"}],
    "limits": {"max_steps": 5, "max_tool_calls": 5, "max_tokens": 1000, "max_cost_usd": 0.5, "max_seconds": 60},
    "daily": {"max_runs": 5, "max_cost_usd": 1.0, "max_tokens": 10_000},
    "memory": True,
    "dreaming": {"at": "03:00", "timezone": "UTC", "max_tokens": 1000, "max_drop_share": 0.1},
    "settings": {"channel": "#ops", "limit": 3},
}  # fmt: skip


def leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield path


def with_leaf(spec: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(spec)
    holder: Any = changed
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return changed


def test_odd_values_in_a_definition_are_refused_or_saved_never_a_500(
    client: TestClient, people: People
) -> None:
    person = people.add()
    provider = {
        "name": "stub",
        "kind": "openai-compatible",
        "base_url": "http://127.0.0.1:9/v1",
        "models": ["stub-small"],
    }
    added = client.post("/api/v1/providers", json=provider, headers=people.add(Role.ADMIN).auth)
    assert added.status_code == 201, added.text
    headers = {**person.auth, "content-type": "application/json"}
    lenient = TestClient(client.app, raise_server_exceptions=False)
    first = lenient.post("/api/v1/agents", json={"spec": FULL}, headers=person.auth)
    assert first.status_code == 201, first.text  # the full definition is valid as it stands
    sent, wrong = 0, []
    for number, path in enumerate(leaves(FULL)):
        for value in ODD:
            spec = with_leaf({**FULL, "name": f"odd-{number}-{sent}"}, path, value)
            # json.dumps writes NaN and Infinity as bare tokens, which httpx's own encoder refuses to send.
            answer = lenient.post("/api/v1/agents", content=json.dumps({"spec": spec}), headers=headers)
            sent += 1
            if answer.status_code >= 500 or answer.status_code not in (201, 400, 404, 409, 422):
                wrong.append(
                    f"{'.'.join(map(str, path))}={str(value)[:12]!r}: {answer.status_code} {answer.text[:90]}"
                )
    assert sent > 300
    assert wrong == [], "\n".join(wrong)
