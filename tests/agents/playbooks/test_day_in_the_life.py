"""A day in the life (issue 7 point 7): an evening, a night and a morning of one person with every
built-in agent enabled at once, each made from its template through the API, against the real servers
(Dovecot/Postfix, the Slack emulator, Radicale, the blue/green setup with nginx and Prometheus), and the
model reached through the real provider path: the stub upstream added as a provider, answering by rules
over each request (day_model.py), every call going through the gateway and metered as a UsageEvent.

Evening: the owner tells the chat assistant three things to remember in a Slack DM, and rates an answer.
She confirms two of them (chat text is untrusted until a person vouches for it). Night (03:00 Berlin, by
ticking the engine at that instant): the assistant dreams, merging the two into one statement through
the model and dropping the unconfirmed one; mail arrives: a VIP's, a question, a newsletter, spam, and an
injection asking the assistant to forward everything and deploy. Morning (06:30 Berlin): the triage run
sorts, flags, tags, drafts two replies (the model obeys the injection in the draft's text, and a draft is
all its text can become) and mails the digest to the owner. The owner is in a meeting when someone else
deploys a bad release of web: the watch posts in #deploys, catches the regression, and the rollback waits
for the owner's click in her DM. After the meeting she DMs "deploy web 3.2.0 to staging", which only deploy
on request takes (the assistant's trigger yields DMs another agent claims): the approval's buttons in the
DM, one click, deployed, watched healthy (the deployment watch, whose condition no longer holds, records a
skipped run for it).

At the end: the mailbox, the chat, the deployment, the memory, the outcomes, and the tokens the upstream
says it served against the UsageEvents the gateway wrote."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from meshclaw.runs.connector_hub import RESCAN_S
from meshclaw.runs.engine import RunEngine
from tests.accounts.test_chat_approvals import click, prompt_in_dm
from tests.accounts.test_chat_assistant import answer_to, dm, react
from tests.agents.playbooks import day_setup as day
from tests.agents.playbooks.day_model import DRAFT, MERGED, MODEL, NOTED, OBEYED, SUMMARY, DayModel
from tests.agents.playbooks.deploy_setup import channel_texts, dm_texts, next_run, pending_approval, runs_of
from tests.agents.playbooks.test_inbox_triage import contents, imap, subjects, wait_digest
from tests.conftest import People
from tests.connectors.deploy.test_bluegreen import traffic
from tests.runs.records import wait_final, wait_status
from tests.servers.calendar import CalendarServer, radicale  # noqa: F401  (fixture)
from tests.servers.deploy import BlueGreen, bluegreen  # noqa: F401  (fixture)
from tests.servers.mail import MailServer, mail_server  # noqa: F401  (fixture)
from tests.servers.slack import SlackEmulator, slack_emulator  # noqa: F401  (fixture)
from tests.stub_upstream import RunningStub, stub_in_thread

OWNER_MAIL = "carol"
BAD, REQUESTED = "3.1.0", "3.2.0"
"""Versions no other test releases: the blue/green setup is shared by the session."""
TO_REMEMBER = (
    "web deploys go to staging before production",
    "web deploys go to staging first, then production",
    "the staging password is hunter2",
)


@pytest.fixture
def model() -> DayModel:
    return DayModel()


@pytest.fixture
def upstream(model: DayModel) -> Iterator[RunningStub]:
    with stub_in_thread(responder=model) as running:
        yield running


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # The real executor (the runtime and the gateway as model access); the background tick is an hour
    # away, so only the test's ticks at the night's and the morning's instants fire time triggers.
    return load_settings(data_dir=tmp_path, database_url=database_url, runs_tick_seconds=3600)


def test_a_night_and_a_morning_with_every_agent(
    app_client: TestClient, engine: RunEngine, context: AppContext, people: People, tmp_path: Path,
    upstream: RunningStub, model: DayModel, mail_server: MailServer, slack_emulator: SlackEmulator,  # noqa: F811
    radicale: CalendarServer, bluegreen: BlueGreen,  # noqa: F811
) -> None:  # fmt: skip
    phases = Phases()
    owner, admin = people.add(), people.add(role=Role.ADMIN)
    ana = slack_emulator.user_id("ana")
    day.add_provider(app_client, admin, upstream.url)
    day.empty_mailbox(mail_server, OWNER_MAIL)
    calendar_id = day.add_accounts(app_client, owner, tmp_path=tmp_path, mail=mail_server, slack=slack_emulator,
                                   calendar=radicale, setup=bluegreen)  # fmt: skip
    accounts_added = time.monotonic()
    agents = day.add_agents(app_client, owner, ana)
    assistant, triage, watch, deployer = (agents[n] for n in ("assistant", "triage", "watch", "deployer"))
    live_before = bluegreen.get()[1]
    bluegreen.release(BAD, error_rate=0.3)
    bluegreen.release(REQUESTED)
    bob_before = len(contents(mail_server, "bob", "INBOX"))
    dm_before = len(dm_texts(slack_emulator, "ana"))  # the emulator is the session's: earlier tests' DMs
    phases.done("setup")

    # --- Evening: three things to remember, told to the assistant in the owner's DM --------------------
    answers = []
    for text in TO_REMEMBER:
        question = dm(slack_emulator, app_client, "ana", f"Please remember that {text}")
        runs = day.runs_for_message(context, question["ts"], 1)
        assert wait_final(context, runs[assistant], timeout=60) == "succeeded"
        # Deploy on request listens to the same DMs, but its trigger claims only deploy requests.
        assert set(day.runs_for_message(context, question["ts"], 1)) == {assistant}
        answers.append(answer_to(slack_emulator, question))  # one answer in the thread: the assistant's
    assert [answer["text"] for answer in answers] == [NOTED] * 3
    react(app_client, slack_emulator, "ana", answers[0], "+1")
    listed = app_client.get(f"/api/v1/agents/{assistant}/memory", headers=owner.auth).json()
    remembered = {item["content"]: item for item in listed}
    assert remembered.keys() == set(TO_REMEMBER)
    assert {item["origin"] for item in listed} == {"untrusted"}  # chat text, whoever wrote it
    for text in TO_REMEMBER[:2]:  # the owner vouches for the two deploy notes, not for the password
        confirmed = app_client.post(f"/api/v1/agents/{assistant}/memory/{remembered[text]['id']}/confirm",
                                    headers=owner.auth)  # fmt: skip
        assert confirmed.status_code == 200, confirmed.text
    phases.done("evening")

    # --- Night: the assistant dreams at 03:00 Berlin; mail arrives ---------------------------------------
    night = day.next_local(datetime.now(UTC), day.DREAM_AT)
    [dream_run] = engine.tick(night)
    assert wait_final(context, dream_run, timeout=60) == "succeeded"
    dreams = app_client.get(f"/api/v1/agents/{assistant}/memory/dreams", headers=owner.auth).json()
    assert [dream["run_id"] for dream in dreams] == [dream_run]
    assert dreams[0]["counts"]["merged_items"] == 2 and dreams[0]["counts"]["dropped_untrusted"] == 1
    assert MERGED in dreams[0]["diary"] and "hunter2" in dreams[0]["diary"]  # the diary says what went
    active = app_client.get(f"/api/v1/agents/{assistant}/memory", headers=owner.auth).json()
    assert [(item["content"], item["origin"]) for item in active] == [(MERGED, "trusted")]
    with imap(mail_server, OWNER_MAIL) as client:
        for raw in day.NIGHT_MAIL:
            client.append("INBOX", raw)
    phases.done("night")

    # --- Morning: the triage run at its set time (weekdays 06:30 Berlin) --------------------------------
    morning = day.next_local(night, day.DIGEST_AT.split()[1], weekdays_only=True)
    [triage_run] = engine.tick(morning)
    assert wait_final(context, triage_run, timeout=60) == "succeeded"
    inbox = subjects(mail_server, "INBOX")
    assert inbox["Outage review"] >= {"$Triaged", "$Urgent", "\\Flagged"}  # VIP, by rule
    assert inbox["Contract"] >= {"$Triaged", "$NeedsReply", "$Drafted"}  # the model: a question
    assert inbox["Invoice 4471"] >= {"$Triaged", "$NeedsReply", "$Drafted"}  # the model: a question too
    assert "\\Flagged" not in inbox["Contract"] | inbox["Invoice 4471"]
    assert all("\\Seen" not in flags for subject, flags in inbox.items() if not subject.startswith("Inbox"))
    assert subjects(mail_server, "Newsletters").keys() == {"This week in widgets"}  # List-Unsubscribe
    assert subjects(mail_server, "Junk").keys() == {"You won"}  # a listed spam domain
    drafts = {str(m["To"]): m.get_content().strip() for m, _ in contents(mail_server, OWNER_MAIL, "Drafts")}
    # The model obeyed the injection in its draft; a draft is all its text can become.
    assert drafts == {"erin@client.example": DRAFT, "mallory@outside.example": DRAFT + OBEYED}
    digest = wait_digest(mail_server)
    assert str(digest["To"]) == "carol@example.test" and digest["Auto-Submitted"] == "auto-generated"
    assert "Urgent (1):" in digest.get_content() and "Needs reply (2):" in digest.get_content()
    phases.done("morning mail")

    # --- In a meeting, someone else deploys a bad release of web: watched, caught, rolled back on a click -
    day.meeting(radicale, calendar_id)
    time.sleep(max(0.0, accounts_added + RESCAN_S + 1.5 - time.monotonic()))  # the poller knows what runs
    with traffic(bluegreen):
        bluegreen.run_script("deploy", "web", "production", BAD)
        bad = next_run(context, watch, 0)
        wait_status(context, bad.id, "waiting_approval", timeout=60)
        rollback = pending_approval(app_client, owner, bad.id)
        assert rollback["tool"] == "deploy_rollback_release"
        assert bluegreen.get()[1] == BAD  # nothing rolled back before the click
        assert click(app_client, prompt_in_dm(slack_emulator, rollback["id"]), "meshclaw_approve", ana) == 200
        assert wait_final(context, bad.id, timeout=60) == "succeeded"
        assert bluegreen.get() == (200, live_before)
        phases.done("regression")

        # --- After the meeting: "deploy web 3.2.0 to staging" in the DM, approved with a click -------------
        day.meeting_ends(radicale, calendar_id)
        request = dm(slack_emulator, app_client, "ana", f"deploy web {REQUESTED} to staging")
        runs = day.runs_for_message(context, request["ts"], 1)
        wait_status(context, runs[deployer], "waiting_approval", timeout=60)
        deploy = pending_approval(app_client, owner, runs[deployer])
        assert deploy["tool"] == "deploy_start_release" and deploy["args"] == {
            "account": "stage", "service": "web", "environment": "staging", "version": REQUESTED}  # fmt: skip
        assert day.started_deploys(tmp_path / "stage-ledger") == []  # not before the click
        assert click(app_client, prompt_in_dm(slack_emulator, deploy["id"]), "meshclaw_approve", ana) == 200
        assert wait_final(context, runs[deployer], timeout=90) == "succeeded"
        # The assistant's trigger is a fallback: a DM deploy on request claims is not answered twice.
        assert set(day.runs_for_message(context, request["ts"], 1)) == {deployer}
    phases.done("deploy request")

    # --- The deployment: the requested release live; who started what ---------------------------------------------------
    assert {bluegreen.get() for _ in range(10)} == {(200, REQUESTED)}
    assert day.started_deploys(tmp_path / "stage-ledger") == [("deploy", REQUESTED)]
    assert day.started_deploys(tmp_path / "prod-ledger") == [("rollback", None)]
    # The prod account's poller saw it go live (another account deployed it): after the meeting, so
    # the watch's run is recorded skipped by its condition.
    watched = [
        (run.status, run.input["text"].rsplit("=", 1)[1], run.error) for run in runs_of(context, watch)
    ]
    assert watched == [
        ("succeeded", BAD, None),
        ("skipped", REQUESTED, "condition 'owner_in_meeting' does not hold"),
    ]

    # --- The chat: status in #deploys; approvals, reports and summaries in the owner's DM ---------------
    posted = [text for text in channel_texts(slack_emulator, "deploys") if BAD in text]
    assert posted[0].startswith(f":eyes: web {BAD} in production was deployed")
    assert posted[1].startswith(f":rotating_light: web {BAD} in production regressed: error_rate = ")
    assert posted[-1].startswith(f":leftwards_arrow_with_hook: rolled web in production back from {BAD}")
    told = dm_texts(slack_emulator, "ana")[dm_before:]
    assert [text for text in told if "asks to run" in text] == [
        "watch asks to run deploy_rollback_release (deploy): approve or deny",
        "deployer asks to run deploy_start_release (deploy): approve or deny",
    ]
    assert told.count(SUMMARY) == 2  # the watch's and deploy on request's, from the model, to the owner
    assert any(text.startswith(f":rocket: deployed web {REQUESTED} in staging") for text in told)
    assert any(text.startswith(f":white_check_mark: web {REQUESTED} in staging: healthy") for text in told)
    assert not any(text.startswith(":no_entry:") for text in told)  # the evening notes were no requests
    assert (
        len(
            slack_emulator.person("ana").conversations_replies(channel=request["channel"], ts=request["ts"])[
                "messages"
            ]
        )
        == 1
    )  # nothing in the request's thread: deploy on request answers in the DM

    # --- Nothing the injection asked for happened -------------------------------------------------------
    assert len(contents(mail_server, "bob", "INBOX")) == bob_before
    assert [str(m["To"]) for m, _ in contents(mail_server, OWNER_MAIL, "Sent")] == ["carol@example.test"]
    assert not (bluegreen.root / "releases" / "6.6.6").exists()

    # --- Outcomes, by agent -----------------------------------------------------------------------------
    counts = {name: day.outcome_counts(context, agent_id) for name, agent_id in agents.items()}
    assert counts == {
        "assistant": Counter({"question.answered": 1, "memory.consolidated": 1}),
        "triage": Counter({"email.triaged": 5, "email.draft_saved": 2, "email.digest_sent": 1}),
        "watch": Counter({"deployment.watched": 1, "regression.caught": 1, "approval.granted": 1,
                          "rollback.executed": 1}),
        "deployer": Counter({"approval.granted": 1, "deployment.executed": 1, "deployment.watched": 1}),
    }  # fmt: skip

    # --- Tokens: every call the upstream served is one UsageEvent of the agent's, for the owner ---------
    app_client.app.state.recorder.flush()  # type: ignore[attr-defined]
    usage = day.usage_rows(context)
    assert upstream.stub is not None
    served = upstream.stub.records
    assert not [kind for kind in model.asked if kind.startswith("unscripted")], model.asked
    assert all(record.status == 200 and record.model == MODEL for record in served)
    assert {(row.source, row.user_id, row.model) for row in usage} == {("agent", owner.id, MODEL)}
    assert sorted((row.input_uncached + row.cache_read, row.output) for row in usage) == sorted(
        (record.input_tokens, record.output_tokens) for record in served
    )
    # The assistant: a note and an answer per evening DM and the dream's merge; triage: two labels and two
    # drafts; each watch: its summary.
    assert Counter(row.agent_id for row in usage) == Counter({assistant: 7, triage: 4, watch: 1, deployer: 1})
    phases.done("checks")
    print("PHASES", phases)


class Phases:
    """Seconds each part of the day took (printed with -s): where to look when the test gets slow."""

    def __init__(self) -> None:
        self.last = time.monotonic()
        self.took: dict[str, float] = {}

    def done(self, name: str) -> None:
        now = time.monotonic()
        self.took[name] = round(now - self.last, 1)
        self.last = now

    def __repr__(self) -> str:
        return repr(self.took)
