"""The deployment-watch playbook end to end: the real server and runs engine, accounts added through the
API, the deploy connector's poll of the real blue/green setup (supervisord, nginx, Prometheus) turning
someone else's deployment into `deployment.started`, the owner's Radicale calendar answering the trigger's
`owner_in_meeting`, status posted to #deploys in the Slack emulator.

One agent sees three deployments by someone else: a good release (watched healthy, status posted, summary
to the owner), a bad one (regression caught within the window, the rollback waits for the owner's approval,
shown in her Slack DM; approved through the API, rolled back, the service answers the good version again),
and after an admin pre-approved rollbacks of web in production, another bad one (rolled back at once)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from meshclaw.agents.templates import builtin_templates
from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from meshclaw.runs.connector_hub import RESCAN_S
from tests.accounts.test_chat_approvals import add_slack_account, prompt_in_dm
from tests.agents.playbooks.deploy_agents import SUMMARY
from tests.agents.playbooks.deploy_settings import settings  # noqa: F401  (fixture)
from tests.agents.playbooks.deploy_setup import (
    WINDOW_S,
    add_account,
    approve,
    channel_texts,
    deploy_config,
    dm_texts,
    from_template,
    model_calls,
    next_run,
    outcomes,
    pending_approval,
    runs_of,
)  # fmt: skip
from tests.conftest import People
from tests.connectors.calendar.conftest import make_calendar, vevent
from tests.connectors.deploy.test_bluegreen import traffic
from tests.runs.records import save_agent, wait_final, wait_status
from tests.servers.calendar import USERS, CalendarServer, radicale  # noqa: F401  (fixture)
from tests.servers.deploy import BlueGreen, bluegreen  # noqa: F401  (fixture)
from tests.servers.slack import SlackEmulator, slack_emulator  # noqa: F401  (fixture)

DETECTION_LIMIT_S = 30


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def test_deployments_by_others_are_watched_and_a_regression_is_rolled_back(
    app_client: TestClient, context: AppContext, org_id: int, people: People, tmp_path: Path,
    bluegreen: BlueGreen, slack_emulator: SlackEmulator, radicale: CalendarServer,  # noqa: F811
) -> None:  # fmt: skip
    owner, admin = people.add(), people.add(role=Role.ADMIN)
    add_slack_account(app_client, owner, slack_emulator)
    add_account(app_client, owner, "prod", "deploy",
                deploy_config(bluegreen, tmp_path / "ledger", ["production"], status=True))  # fmt: skip
    # The owner sits in a meeting for the next hour: the trigger's condition holds.
    calendar = make_calendar(radicale, "alice", "Deploy watch e2e")
    now = datetime.now(UTC)
    lines = f"DTSTART:{stamp(now - timedelta(minutes=5))}\nDTEND:{stamp(now + timedelta(hours=1))}"
    radicale.put("alice", calendar, "review.ics", vevent("review-deploy-watch", lines))
    stored = app_client.post("/api/v1/vault/secrets", headers=owner.auth,
                             json={"name": "caldav-password", "value": USERS["alice"]})  # fmt: skip
    assert stored.status_code == 201, stored.text
    add_account(app_client, owner, "work-calendar", "calendar", {"url": radicale.url, "username": "alice",
                "password": "vault:caldav-password", "calendars": [calendar]})  # fmt: skip
    watch = {"deploy_account": "prod", "slack_account": "work-slack", "channel": "deploys", "services": "web",
             "environments": "production", "only_in_meetings": "yes", "window_seconds": str(WINDOW_S)}  # fmt: skip
    agent_id = from_template(app_client, owner, "deployment-watch", "deploy-watch", watch)
    # The model only writes the summaries. The API takes a model a configured provider serves, which the
    # scripted one is not, so a second version of the agent (the template's spec) names it directly.
    spec = builtin_templates().get("deployment-watch").spec("deploy-watch", watch).model_dump(mode="json")
    assert save_agent(context, org_id, owner, **{**spec, "model": {"name": "scripted"}}) == agent_id
    for version, error_rate in (("7.1.0", 0.0), ("7.2.0", 0.3), ("7.3.0", 0.3)):
        bluegreen.release(version, error_rate=error_rate)
    posted_before = len(channel_texts(slack_emulator, "deploys"))
    time.sleep(RESCAN_S + 1.5)  # the hub starts the account's poller, whose first poll learns what runs now

    with traffic(bluegreen):
        # (a) A good release, deployed by someone else: watched healthy, status in #deploys, a summary.
        bluegreen.run_script("deploy", "web", "production", "7.1.0")
        good = next_run(context, agent_id, 0)
        assert (
            good.trigger_detail["event"] == "deployment.started" and good.trigger_detail["untrusted"] is False
        )
        assert wait_final(context, good.id, timeout=60) == "succeeded"
        posts = channel_texts(slack_emulator, "deploys")[posted_before:]
        assert posts[0].startswith(":eyes: web 7.1.0 in production was deployed")
        assert posts[1].startswith(":white_check_mark: web 7.1.0 in production: healthy")
        assert outcomes(context, good.id) == ["deployment.watched"]
        assert dm_texts(slack_emulator, "ana")[-1] == SUMMARY  # the model's, to the owner only
        assert model_calls(context, good.id) == 1  # the summary; detection needs no model

        # (b) A bad release: caught within the window; the rollback waits for the owner, then runs.
        clock = time.monotonic()
        bluegreen.run_script("deploy", "web", "production", "7.2.0")
        bad = next_run(context, agent_id, 1)
        wait_status(context, bad.id, "waiting_approval", timeout=60)
        caught = time.monotonic() - clock
        assert caught < DETECTION_LIMIT_S, f"the regression was caught after {caught:.1f} s"
        pending = pending_approval(app_client, owner, bad.id)
        assert pending["tool"] == "deploy_rollback_release" and pending["args"] == {
            "account": "prod",
            "service": "web",
            "environment": "production",
            "version": None,
        }
        prompt_in_dm(slack_emulator, pending["id"])  # the owner sees it in her Slack DM too
        assert bluegreen.get()[1] == "7.2.0"  # nothing rolled back before the approval
        alarm = channel_texts(slack_emulator, "deploys")[-1]
        assert alarm.startswith(":rotating_light: web 7.2.0 in production regressed: error_rate = ")
        approve(app_client, owner, pending["id"])
        assert wait_final(context, bad.id, timeout=60) == "succeeded"
        assert bluegreen.get() == (200, "7.1.0")
        assert channel_texts(slack_emulator, "deploys")[-1] == (
            ":leftwards_arrow_with_hook: rolled web in production back from 7.2.0: it runs 7.1.0 (succeeded)."
        )
        assert model_calls(context, bad.id) == 1  # not paid again after the approval
        assert outcomes(context, bad.id) == ["approval.granted", "deployment.watched", "regression.caught",
                                             "rollback.executed"]  # fmt: skip

        # (c) An admin pre-approves rollbacks of web in production: the next bad release goes back at once.
        made = app_client.post(f"/api/v1/policy/agents/{agent_id}/preapprovals", headers=admin.auth, json={
            "tool": "deploy_rollback_release", "constraints": {"service": "web", "environment": "production"}})  # fmt: skip
        assert made.status_code == 201, made.text
        bluegreen.run_script("deploy", "web", "production", "7.3.0")
        worse = next_run(context, agent_id, 2)
        assert wait_final(context, worse.id, timeout=60) == "succeeded"
        assert outcomes(context, worse.id) == ["deployment.watched", "regression.caught", "rollback.executed"]
    answers = {bluegreen.get() for _ in range(20)}
    assert answers == {(200, "7.1.0")}
    time.sleep(1.5)  # a poll after our own rollbacks: they are not announced as someone else's deployments
    assert [run.input["text"] for run in runs_of(context, agent_id)] == [
        f"Event deployment.started: account=prod, environment=production, service=web, version={version}"
        for version in ("7.1.0", "7.2.0", "7.3.0")
    ]
