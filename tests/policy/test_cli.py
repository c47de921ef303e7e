"""`meshclaw policy`: the same rows as the API, from the server's shell, audited as `cli`."""

from __future__ import annotations

from sqlalchemy import select

from meshclaw.context import AppContext
from meshclaw.db.models import AuditEvent
from tests.cli_runner import run_cli
from tests.conftest import People
from tests.runs.records import save_agent


def test_allow_list_and_remove_destinations_and_preapprovals(
    context: AppContext, org_id: int, people: People
) -> None:
    owner = people.add()
    agent_id = save_agent(context, org_id, owner, "deployer", tools=[{"tool": "deploy_start_release"}])
    data_dir, url = context.settings.data_dir, context.settings.database_url

    def cli(*args: str) -> str:
        done = run_cli(data_dir, "policy", *args, database_url=url)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "Allowed domain partner.example" in cli("egress", "allow", "partner.example", "--note", "agency")
    listed = cli("egress", "list")
    assert (
        "internal domains (from people's addresses): example.org" in listed
        and "partner.example  # agency" in listed
    )
    added = cli(
        "preapprove", f"{owner.email}/deployer", "deploy_start_release", "service=web", "environment=staging"
    )
    assert f'{{"service": "web", "environment": "staging"}} for agent {agent_id}' in added
    assert "deploy_start_release" in cli("preapprovals", str(agent_id))
    preapproval_id = added.rsplit("(id ", 1)[1].rstrip(").\n")
    assert "Removed pre-approval" in cli("unapprove", preapproval_id)
    assert "no pre-approvals" in cli("preapprovals", str(agent_id))

    bad = run_cli(
        data_dir, "policy", "preapprove", str(agent_id), "deploy_start_release", "staging", database_url=url
    )
    assert bad.returncode != 0 and "is not NAME=VALUE" in bad.stderr
    missing = run_cli(data_dir, "policy", "preapprovals", f"{owner.email}/ghost", database_url=url)
    assert missing.returncode != 0 and "has no agent named 'ghost'" in missing.stderr + missing.stdout
    with context.db.session() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.kind.startswith("admin.")).order_by(AuditEvent.seq)
        )
        assert [(row.kind, row.invoked_by) for row in rows] == [
            ("admin.egress_allowed", "cli"), ("admin.preapproval_added", "cli"), ("admin.preapproval_removed", "cli")]  # fmt: skip


def test_classify_an_mcp_tool(context: AppContext, org_id: int, people: People) -> None:
    owner = people.add()
    server = {"name": "chat", "command": ["chat-server", "--stdio"]}
    save_agent(context, org_id, owner, "poster", mcp_servers=[server])
    data_dir, url = context.settings.data_dir, context.settings.database_url
    done = run_cli(data_dir, "policy", "classify", f"{owner.email}/poster", "chat", "post_message", "write_internal",
                   database_url=url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        "chat_post_message is write_internal from the next run (server: chat-server --stdio)" in done.stdout
    )
    wrong = run_cli(data_dir, "policy", "classify", f"{owner.email}/poster", "chat", "post_message", "safe",
                    database_url=url)  # fmt: skip
    assert wrong.returncode != 0 and "'safe' is not an effect class" in wrong.stderr
