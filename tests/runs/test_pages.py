"""The run pages: an agent's runs with "Run now", and a run's page whose live panel polls itself while the
run is active and stops polling once it ended; another member sees neither."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from meshclaw.context import AppContext
from tests.conftest import People
from tests.runs.records import save_agent, wait_final, wait_status
from tests.web.conftest import WebPeople, signed_in

LIVE = 'hx-get="/runs/'


def test_run_now_then_the_live_view_follows_the_run_until_it_ends(
    app_client: TestClient, context: AppContext, org_id: int, people: People
) -> None:
    web_people = WebPeople(context, people)
    alice = web_people.add()
    agent_id = save_agent(context, org_id, people.add(), "other", settings={"tool_calls": 0})
    mine = save_agent(context, org_id, alice, "mine", settings={"tool_calls": 1, "approval": True})
    token = signed_in(app_client, alice)
    assert 'href="/agents/' in app_client.get(f"/agents/{mine}").text

    page = app_client.get(f"/agents/{mine}/runs")
    assert page.status_code == 200 and "No runs yet." in page.text and "Run now" in page.text
    started = app_client.post(f"/agents/{mine}/runs", data={"csrf_token": token}, follow_redirects=False)
    assert started.status_code == 303
    run_url = started.headers["location"].split("?")[0]
    run_id = run_url.rsplit("/", 1)[1]

    wait_status(context, run_id, "waiting_approval")
    live = app_client.get(f"{run_url}/live")
    assert live.status_code == 200 and LIVE in live.text and "Waiting for approval" in live.text
    assert "effect_write_record" in live.text

    decision = {"decisions": [{"tool_call_id": "call-0", "approved": True}]}
    assert (
        app_client.post(
            f"/api/v1/runs/{run_id}/approvals", json=decision, headers={"X-CSRF-Token": token}
        ).status_code
        == 202
    )
    assert wait_final(context, run_id) == "succeeded"
    deadline = time.monotonic() + 5
    while LIVE in (panel := app_client.get(f"{run_url}/live").text) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert LIVE not in panel and "succeeded" in panel
    assert run_id in app_client.get(f"/agents/{mine}/runs").text

    assert app_client.get(f"/agents/{agent_id}/runs").status_code in (403, 404)
    assert app_client.post(
        f"/agents/{agent_id}/runs", data={"csrf_token": token}, follow_redirects=False
    ).status_code in (403, 404)
