"""The approvals inbox at /approvals: the exact action in full and as text, the pending count in the
navigation, decisions by form (approve, deny with a note, edit the JSON then approve, with a clear error
for JSON that does not parse or fit), the run page linking to the same forms, and nothing for others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from tests.conftest import People
from tests.runs.approval_agent import DEPLOY, LONG, deploys
from tests.runs.records import save_agent, wait_final, wait_status
from tests.web.conftest import WebPeople, signed_in


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_executor="tests.runs.approval_agent:build"
    )


def test_the_inbox_shows_the_exact_action_and_decides_by_form(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    web_people = WebPeople(context, people)
    alice, bob = web_people.add(), web_people.add()
    save_agent(context, org_id, alice, "deployer", model={"name": "scripted"}, tools=[{"tool": DEPLOY}])
    token = signed_in(app_client, alice)
    assert "Nothing waits for your approval." in app_client.get("/approvals").text
    started = app_client.post(
        "/api/v1/runs", json={"agent": "deployer", "input": "long"}, headers={"X-CSRF-Token": token}
    )
    run_id = started.json()["id"]
    wait_status(context, run_id, "waiting_approval", timeout=60)

    page = app_client.get("/approvals")
    assert page.status_code == 200
    text = page.text
    assert 'id="approvals-pending"' in text and ">1</span>" in text
    [approval] = app_client.get("/api/v1/approvals", headers={"X-CSRF-Token": token}).json()
    approval_id = approval["id"]
    assert DEPLOY in text and ">deploy<" in text and str(escape(approval["reason"])) in text
    assert str(escape(LONG["environment"])) in text, "every argument in full, as text"
    assert "<img" not in text and 'href="https://evil.test/' not in text
    assert f'href="/runs/{run_id}"' in text

    live = app_client.get(f"/runs/{run_id}/live").text
    assert f'href="/approvals/{approval_id}"' in live
    one = app_client.get(f"/approvals/{approval_id}")
    assert one.status_code == 200 and "Approve with these arguments" in one.text

    form = {"csrf_token": token, "action": "edit", "back": "one", "args": "{not json"}
    bad = app_client.post(f"/approvals/{approval_id}", data=form, follow_redirects=False)
    assert bad.status_code == 422 and "not valid JSON" in bad.text and "{not json" in bad.text
    deep = app_client.post(
        f"/approvals/{approval_id}", data={**form, "args": "[" * 50_000}, follow_redirects=False
    )
    assert deep.status_code == 422 and "nested too deeply" in deep.text
    form["args"] = json.dumps({"service": "web"})
    unfit = app_client.post(f"/approvals/{approval_id}", data=form, follow_redirects=False)
    assert unfit.status_code == 422 and "version" in unfit.text and "do not fit" in unfit.text
    assert app_client.post(f"/approvals/{approval_id}", data={"action": "approve"}).status_code == 403

    app_client.cookies.clear()
    signed_in(app_client, bob)
    assert app_client.get(f"/approvals/{approval_id}").status_code == 404
    assert "Nothing waits for your approval." in app_client.get("/approvals").text

    app_client.cookies.clear()
    token = signed_in(app_client, alice)
    edited = {"service": "web", "version": "1.2.4", "environment": "staging"}
    form = {"csrf_token": token, "action": "edit", "back": "inbox", "args": json.dumps(edited)}
    done = app_client.post(f"/approvals/{approval_id}", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/approvals?notice=edited"
    assert wait_final(context, run_id, timeout=60) == "succeeded"
    assert deploys(context.settings.data_dir) == [edited]
    again = app_client.post(
        f"/approvals/{approval_id}", data={**form, "action": "approve"}, follow_redirects=False
    )
    assert again.status_code == 409 and "counts once" in again.text
