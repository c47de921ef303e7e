"""Agent definitions saved (API, web forms, CLI), Clarity settings changed and tokenmaxxing flags reviewed
(API and web) are records in the audit log, written with the change; a refused change or one that changes
nothing records nothing, and the chain still verifies."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from meshclaw.agents.spec import AgentSpec
from meshclaw.api.agent_audit import GRANT_FIELDS, NOT_RECORDED
from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from meshclaw.providers.registry import add_provider
from tests.audit.admin_records import chain_verifies, key_id, records
from tests.clarity.conftest import WEEK
from tests.clarity_web.conftest import WebOrg, web_org  # noqa: F401  (the flag tests' organization)
from tests.cli_runner import run_cli
from tests.conftest import People
from tests.web.conftest import WebPeople, signed_in

SERVER = {
    "name": "github",
    "command": ["npx", "-y", "@modelcontextprotocol/server-github"],
    "env": {"GITHUB_TOKEN": "vault:github-pat", "GITHUB_HOST": "ghe.internal.example"},
}
SPEC: dict[str, Any] = {
    "name": "triage",
    "purpose": "sort mail",
    "tools": [{"tool": "time_get_now"}],
    "mcp_servers": [SERVER],
    "triggers": [{"cron": "weekdays 07:00"}],
}


def events(context: AppContext, kind: str | None = None) -> list[dict[str, Any]]:
    """The admin records (or those of `kind`), oldest first, with their stored (redacted) arguments."""
    return [record for record in records(context, "admin.") if kind is None or record["kind"] == kind]


def _add_model(context: AppContext, model: str = "m1") -> None:
    with context.db.session() as session:
        add_provider(session, name="local", kind="openai-compatible", base_url="http://127.0.0.1:9/v1",
                     api_key_env=None, models=[model], now=context.clock.now())  # fmt: skip


# --- agent definitions --------------------------------------------------------------------------------


def test_an_agent_created_and_changed_through_the_api_is_audited_with_its_grants(
    client: TestClient, context: AppContext, people: People
) -> None:
    alice = people.add()
    created = client.post("/api/v1/agents", headers=alice.auth, json={"spec": SPEC})
    assert created.status_code == 201, created.text
    agent_id, digest = created.json()["agent"]["id"], created.json()["version"]["spec_digest"]

    (record,) = events(context)
    assert (record["kind"], record["target"]) == ("admin.agent_saved", f"agent:{agent_id}")
    assert record["invoked_by"] == f"api-key:{key_id(context, alice)}"
    assert record["on_behalf_of_user_id"] == alice.id
    arguments = record["arguments"]
    assert {k: arguments[k] for k in ("name", "owner_user_id", "version", "created", "spec_sha256")} == {
        "name": "triage", "owner_user_id": alice.id, "version": 1, "created": True, "spec_sha256": digest,
    }  # fmt: skip
    changes = arguments["changes"]
    assert set(changes) == set(GRANT_FIELDS) and all(c["from"] is None for c in changes.values())
    assert changes["tools"]["to"] == [{"tool": "time_get_now", "account": None, "scopes": {}}]
    assert changes["triggers"]["to"][0]["cron"] == "weekdays 07:00" and changes["model"]["to"] is None
    # The vault reference is kept (under a name the log would redact as a mapping key); a literal is not.
    (server,) = changes["mcp_servers"]["to"]
    assert server["env"] == [
        {"variable": "GITHUB_HOST", "value": NOT_RECORDED},
        {"variable": "GITHUB_TOKEN", "vault": "github-pat"},
    ]
    assert "ghe.internal.example" not in json.dumps(arguments)

    # Saving the same definition again writes no version and no record; a new purpose is a record with no
    # grant changed; a new tool grant and trigger are recorded from and to.
    url = f"/api/v1/agents/{agent_id}"
    assert client.put(url, headers=alice.auth, json={"spec": SPEC}).json()["outcome"] == "unchanged"
    assert len(events(context)) == 1
    reworded = client.put(url, headers=alice.auth, json={"spec": {**SPEC, "purpose": "sort and label"}})
    assert reworded.json()["outcome"] == "updated"
    second = events(context)[-1]["arguments"]
    assert (second["version"], second["created"], second["changes"]) == (2, False, {})
    assert second["spec_sha256"] == reworded.json()["version"]["spec_digest"] != digest
    wider = {
        **SPEC,
        "purpose": "sort and label",
        "tools": [{"tool": "time_get_now"}, {"tool": "github_*"}],
        "triggers": [{"cron": "daily 03:00"}],
    }
    assert client.put(url, headers=alice.auth, json={"spec": wider}).status_code == 200
    third = events(context)[-1]["arguments"]
    assert third["version"] == 3 and set(third["changes"]) == {"tools", "triggers"}
    assert [grant["tool"] for grant in third["changes"]["tools"]["from"]] == ["time_get_now"]
    assert [grant["tool"] for grant in third["changes"]["tools"]["to"]] == ["time_get_now", "github_*"]
    assert third["changes"]["triggers"]["from"][0]["cron"] == "weekdays 07:00"
    assert third["changes"]["triggers"]["to"][0]["cron"] == "daily 03:00"
    assert chain_verifies(context)


def test_refused_saves_through_the_api_record_nothing(
    client: TestClient, context: AppContext, people: People
) -> None:
    alice = people.add()
    agent_id = client.post("/api/v1/agents", headers=alice.auth, json={"spec": SPEC}).json()["agent"]["id"]
    url = f"/api/v1/agents/{agent_id}"
    changed = {**SPEC, "purpose": "changed"}
    assert (
        client.put(url, headers={**alice.auth, "If-Match": '"1"'}, json={"spec": changed}).status_code == 200
    )
    before = len(events(context))
    assert before == 2  # the create and the change

    stale = client.put(
        url, headers={**alice.auth, "If-Match": '"1"'}, json={"spec": {**SPEC, "purpose": "x"}}
    )
    assert stale.status_code == 412
    assert client.post("/api/v1/agents", headers=alice.auth, json={"spec": SPEC}).status_code == 409
    unknown_tool = {**SPEC, "name": "other", "tools": [{"tool": "nothing_like_this"}]}
    assert client.post("/api/v1/agents", headers=alice.auth, json={"spec": unknown_tool}).status_code == 422
    no_model = {**SPEC, "name": "other", "model": {"name": "not-served"}}
    assert client.post("/api/v1/agents", headers=alice.auth, json={"spec": no_model}).status_code == 422
    renamed = client.put(url, headers=alice.auth, json={"spec": {**changed, "name": "renamed"}})
    assert renamed.status_code == 422
    bob = people.add()
    assert client.put(url, headers=bob.auth, json={"spec": {**SPEC, "purpose": "mine"}}).status_code == 404
    assert len(events(context)) == before and chain_verifies(context)


def test_an_admin_creating_for_someone_else_and_from_a_template_is_audited(
    client: TestClient, context: AppContext, people: People
) -> None:
    _add_model(context)
    admin, alice = people.add(Role.ADMIN), people.add()
    made = client.post("/api/v1/agents", headers=admin.auth, json={"spec": SPEC, "owner": alice.email})
    assert made.status_code == 201, made.text
    templated = client.post(
        "/api/v1/agents/from-template",
        headers=admin.auth,
        json={"template": "assistant", "name": "helper", "settings": {"model": "m1"}},
    )
    assert templated.status_code == 201, templated.text
    first, second = events(context)
    assert first["on_behalf_of_user_id"] == admin.id and first["arguments"]["owner_user_id"] == alice.id
    assert second["target"] == f"agent:{templated.json()['agent']['id']}"
    assert second["invoked_by"] == f"api-key:{key_id(context, admin)}"
    assert second["arguments"]["owner_user_id"] == admin.id and second["arguments"]["created"] is True
    assert second["arguments"]["changes"]["template"] == {"from": None, "to": "assistant"}
    assert second["arguments"]["changes"]["model"]["to"] == {"name": "m1", "provider": None}


def test_a_url_password_in_an_mcp_server_is_not_recorded(
    client: TestClient, context: AppContext, people: People
) -> None:
    alice = people.add()
    server = {"name": "remote", "url": "https://bot:hunter2-not-a-vault-ref@mcp.example.org/mcp"}
    spec = {"name": "remote-tools", "mcp_servers": [server]}
    assert client.post("/api/v1/agents", headers=alice.auth, json={"spec": spec}).status_code == 201
    (record,) = events(context)
    (shown,) = record["arguments"]["changes"]["mcp_servers"]["to"]
    assert shown["url"] == "https://bot:[redacted]@mcp.example.org/mcp"
    assert "hunter2" not in json.dumps(record)


def test_agents_saved_with_the_web_forms_are_audited(
    client: TestClient, context: AppContext, web_people: WebPeople
) -> None:
    _add_model(context)
    alice = web_people.add()
    token = signed_in(client, alice)
    form = {"csrf_token": token, "name": "inbox-bot", "purpose": "sort mail", "memory": "on"}
    made = client.post("/agents/new", data=form, follow_redirects=False)
    assert made.status_code == 303, made.text
    agent_id = int(made.headers["location"].split("?")[0].rsplit("/", 1)[1])
    pasted = client.post(
        "/agents/new/text",
        data={"csrf_token": token, "format": "toml", "text": 'name = "pasted"\n[model]\nname = "m1"\n'},
        follow_redirects=False,
    )
    assert pasted.status_code == 303, pasted.text
    templated = client.post(
        "/agents/new/template",
        data={"csrf_token": token, "template": "assistant", "name": "helper", "setting.model": "m1"},
        follow_redirects=False,
    )
    assert templated.status_code == 303, templated.text
    created = events(context)
    assert [e["arguments"]["name"] for e in created] == ["inbox-bot", "pasted", "helper"]
    assert all(
        e["invoked_by"] == f"user:{alice.id}" and e["on_behalf_of_user_id"] == alice.id for e in created
    )
    assert all(e["arguments"]["created"] is True for e in created)
    assert created[0]["target"] == f"agent:{agent_id}"

    # The edit form: a new model and memory off are grant changes; the same form again records nothing;
    # a form opened from a version that is no longer current saves nothing and records nothing.
    edit = f"/agents/{agent_id}/edit"
    changed = {"csrf_token": token, "version": "1", "model.name": "m1", "memory.shown": "1"}
    assert client.post(edit, data=changed, follow_redirects=False).status_code == 303
    record = events(context)[-1]
    assert (record["target"], record["invoked_by"]) == (f"agent:{agent_id}", f"user:{alice.id}")
    assert record["arguments"]["version"] == 2 and record["arguments"]["created"] is False
    assert record["arguments"]["changes"] == {
        "model": {"from": None, "to": {"name": "m1", "provider": None}},
        "memory": {"from": True, "to": False},
    }
    again = client.post(edit, data={**changed, "version": "2"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].endswith("notice=unchanged")
    stale = client.post(edit, data={**changed, "version": "1", "purpose": "other"})
    assert stale.status_code == 409
    bad = client.post(edit, data={**changed, "version": "2", "limits.max_steps": "0"})
    assert bad.status_code == 422
    assert len(events(context)) == 4 and chain_verifies(context)


def test_agents_applied_with_the_cli_are_audited_as_the_operator(
    client: TestClient, context: AppContext, people: People, tmp_path: Path, database_url: str
) -> None:
    alice = people.add()
    file = tmp_path / "triage.toml"
    file.write_text('name = "triage"\npurpose = "sort mail"\n[[tools]]\ntool = "time_get_now"\n')

    def apply(*extra: str) -> int:
        done = run_cli(tmp_path, "agents", "apply", str(file), "--owner", alice.email, *extra,
                       database_url=database_url)  # fmt: skip
        return done.returncode

    assert apply() == 0
    (record,) = events(context)
    assert (record["kind"], record["invoked_by"], record["on_behalf_of_user_id"]) == (
        "admin.agent_saved",
        "cli",
        None,
    )
    assert record["arguments"]["owner_user_id"] == alice.id and record["arguments"]["created"] is True
    assert apply() == 0  # unchanged: no version, no record
    assert len(events(context)) == 1

    file.write_text(file.read_text() + "[[triggers]]\nevery_seconds = 3600\n")
    assert apply() == 0
    record = events(context)[-1]
    assert record["invoked_by"] == "cli" and record["arguments"]["version"] == 2
    assert record["arguments"]["changes"] == {
        "triggers": {"from": [], "to": [{"kind": "interval", "every_seconds": 3600, "condition": None}]}
    }
    file.write_text(file.read_text().replace("3600", "7200"))
    assert apply("--if-version", "1") == 2  # stale: nothing saved
    assert len(events(context)) == 2 and chain_verifies(context)


def test_the_grant_fields_are_fields_of_the_spec() -> None:
    """A renamed spec field would silently drop out of every record: this fails first."""
    assert set(GRANT_FIELDS) <= set(AgentSpec.model_fields)


# --- Clarity settings ---------------------------------------------------------------------------------


def test_clarity_settings_changes_are_audited_with_the_fields_changed(
    client: TestClient, context: AppContext, people: People
) -> None:
    admin, manager = people.add(Role.ADMIN), people.add(Role.MANAGER)
    changed = client.put(
        "/api/v1/clarity/settings",
        json={"weekly_goal": 0.5, "active_min_days": 2, "weekly_token_target": 400_000},
        headers=admin.auth,
    )
    assert changed.status_code == 200, changed.text
    (record,) = events(context)
    assert (record["kind"], record["target"]) == ("admin.clarity_settings_changed", "clarity_settings")
    assert record["invoked_by"] == f"api-key:{key_id(context, admin)}"
    assert record["on_behalf_of_user_id"] == admin.id
    assert record["arguments"] == {  # active_min_days was 2 already
        "weekly_goal": {"from": 0.8, "to": 0.5},
        "weekly_token_target": {"from": None, "to": 400_000},
    }
    same = client.put("/api/v1/clarity/settings", json={"weekly_goal": 0.5}, headers=admin.auth)
    assert same.status_code == 200
    bad = client.put("/api/v1/clarity/settings", json={"weekly_goal": 1.5}, headers=admin.auth)
    assert bad.status_code == 400
    refused = client.put("/api/v1/clarity/settings", json={"weekly_goal": 0.3}, headers=manager.auth)
    assert refused.status_code == 403
    assert len(events(context)) == 1
    minutes = client.put(
        "/api/v1/clarity/settings", json={"minutes_saved": {"email.triaged": 3}}, headers=admin.auth
    )
    assert minutes.status_code == 200
    assert events(context)[-1]["arguments"]["minutes_saved"]["to"] == {"email.triaged": 3.0}
    assert chain_verifies(context)


def test_a_team_leaderboard_switched_on_is_audited_for_the_team(
    client: TestClient, context: AppContext, people: People
) -> None:
    admin = people.add(Role.ADMIN)
    big = people.team("Big")
    people.add(team_id=big)
    path = "/api/v1/clarity/teams/Big/settings"
    on = client.put(path, json={"leaderboard_enabled": True}, headers=admin.auth)
    assert on.status_code == 200, on.text
    (record,) = events(context)
    assert (record["kind"], record["target"]) == ("admin.clarity_team_settings_changed", f"team:{big}")
    assert record["on_behalf_of_user_id"] == admin.id
    assert record["invoked_by"] == f"api-key:{key_id(context, admin)}"
    arguments = record["arguments"]
    assert set(arguments) == {"leaderboard_enabled", "leaderboard_enabled_at", "target_introduced_at"}
    assert arguments["leaderboard_enabled"] == {"from": False, "to": True}
    assert arguments["leaderboard_enabled_at"]["from"] is None and arguments["leaderboard_enabled_at"]["to"]
    assert client.put(path, json={"leaderboard_enabled": True}, headers=admin.auth).status_code == 200
    assert client.put("/api/v1/clarity/teams/Nope/settings", json={"leaderboard_enabled": True},
                      headers=admin.auth).status_code == 404  # fmt: skip
    assert len(events(context)) == 1
    off = client.put(path, json={"leaderboard_enabled": False}, headers=admin.auth)
    assert off.status_code == 200
    assert events(context)[-1]["arguments"] == {"leaderboard_enabled": {"from": True, "to": False}}
    assert chain_verifies(context)


# --- tokenmaxxing flag reviews ------------------------------------------------------------------------


def test_flag_reviews_through_the_api_and_the_web_are_audited(web_org: WebOrg) -> None:  # noqa: F811
    org, context = web_org.org, web_org.context
    listed = org.client.get(
        f"/api/v1/clarity/flags?since={WEEK}&until={WEEK + timedelta(days=7)}", headers=org.admin.auth
    )
    (flag,) = listed.json()["flags"]
    review = f"/api/v1/clarity/flags/{flag['id']}/review"
    before = len(events(context))

    # Refused reviews record nothing: not a reviewer, an unknown flag, an unknown status.
    assert org.client.post(review, json={"status": "dismissed"}, headers=org.grinder.auth).status_code == 403
    unknown = f"/api/v1/clarity/flags/{flag['id'] + 99}/review"
    assert org.client.post(unknown, json={"status": "confirmed"}, headers=org.admin.auth).status_code == 404
    assert org.client.post(review, json={"status": "ignored"}, headers=org.admin.auth).status_code == 422
    admin_web = web_org.as_(org.admin)
    token = web_org.csrf(admin_web)
    bad = admin_web.post(
        f"/clarity/flags/{flag['id']}/review", data={"status": "ignored", "csrf_token": token}
    )
    assert bad.status_code == 400
    missing = admin_web.post(
        f"/clarity/flags/{flag['id'] + 99}/review", data={"status": "confirmed", "csrf_token": token}
    )
    assert missing.status_code == 404
    assert len(events(context)) == before

    answer = org.client.post(
        review, json={"status": "dismissed", "note": "release week"}, headers=org.auditor.auth
    )
    assert answer.status_code == 200, answer.text
    record = events(context)[-1]
    assert (record["kind"], record["target"]) == ("admin.flag_reviewed", f"clarity_flag:{flag['id']}")
    assert record["invoked_by"] == f"api-key:{key_id(context, org.auditor)}"
    assert record["on_behalf_of_user_id"] == org.auditor.id
    assert record["arguments"] == {
        "subject": {"kind": "person", "id": org.grinder.id},
        "week": WEEK.isoformat(),
        "status": {"from": "open", "to": "dismissed"},
        "note": "release week",
    }

    sent = admin_web.post(
        f"/clarity/flags/{flag['id']}/review",
        data={"status": "confirmed", "note": "  Talked it over ", "csrf_token": token},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    record = events(context)[-1]
    assert (record["invoked_by"], record["on_behalf_of_user_id"]) == (f"user:{org.admin.id}", org.admin.id)
    assert record["arguments"]["status"] == {"from": "dismissed", "to": "confirmed"}
    assert record["arguments"]["note"] == "Talked it over"
    assert len(events(context)) == before + 2 and chain_verifies(context)
