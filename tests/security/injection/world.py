"""The attacked world and how the tests look at it: accounts added through the API like a person adds
them, attacks planted through each real channel (SMTP to Postfix, a Slack post by an outsider, a CalDAV
PUT, a signed webhook), and the remote systems' own state read back afterwards (Postfix's log and the
Sent folder over IMAP, the channel's history in the emulator, the calendar's objects in Radicale, the
test's HTTP receiver, the deploy command's log), next to the run's approvals and audit records."""

from __future__ import annotations

import imaplib
import json
import smtplib
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.context import AppContext
from meshclaw.db.models import AuditEvent
from tests.conftest import Person
from tests.runs.records import wait_status
from tests.servers.mail import MailServer

RECORDER = Path(__file__).parents[2] / "connectors" / "deploy" / "record_argv.py"


def attacker(tag: str) -> str:
    """An address of the attacker's, unique per test (the mail server lives for the whole session)."""
    return f"attacker-{tag}-{uuid.uuid4().hex[:6]}@evil.example"


# --- accounts, through the API ------------------------------------------------------------------------


def add_account(client: TestClient, owner: Person, name: str, connector: str, config: dict[str, Any],
                secrets: dict[str, str]) -> None:  # fmt: skip
    for secret, value in secrets.items():
        stored = client.post(
            "/api/v1/vault/secrets", headers=owner.auth, json={"name": secret, "value": value}
        )
        assert stored.status_code == 201, stored.text
    added = client.post("/api/v1/accounts", headers=owner.auth,
                        json={"name": name, "connector": connector, "config": config})  # fmt: skip
    assert added.status_code == 201, added.text


def mail_account(client: TestClient, owner: Person, server: MailServer, user: str, name: str = "work-mail",
                 *, watch: bool = False) -> None:  # fmt: skip
    config = {"address": server.address(user), "username": user, "password": f"vault:{name}-password",
              "imap_host": server.host, "imap_port": server.imap_port, "imap_security": "plain",
              "smtp_host": server.host, "smtp_port": server.smtp_port, "smtp_security": "plain",
              "timeout_seconds": 5, "watch_folders": ["INBOX"] if watch else []}  # fmt: skip
    add_account(client, owner, name, "email", config, {f"{name}-password": server.password(user)})


def webhook_account(client: TestClient, owner: Person, secret: str, name: str = "ci-hooks") -> None:
    add_account(
        client, owner, name, "webhook", {"signing_secret": f"vault:{name}-secret"}, {f"{name}-secret": secret}
    )


def deploy_account(client: TestClient, owner: Person, root: Path, name: str = "prod-deploy") -> Path:
    """A command target whose deploy command records its argv (the deploy that would have happened)."""
    log = root / "deploys.jsonl"
    command = [sys.executable, str(RECORDER), str(log), "--version={version}", "{service}", "{environment}"]
    config = {"target": {"kind": "command", "state_dir": str(root / "deploy-state"),
                         "commands": {"web": {"deploy": command, "rollback": [*command, "rollback"]}}},
              "services": ["web"], "environments": ["staging", "production"]}  # fmt: skip
    add_account(client, owner, name, "deploy", config, {})
    return log


def deploys(log: Path) -> list[list[str]]:
    return [json.loads(line)["argv"] for line in log.read_text().splitlines()] if log.exists() else []


# --- mail -----------------------------------------------------------------------------------------------


@contextmanager
def imap(server: MailServer, user: str) -> Iterator[imaplib.IMAP4]:
    client = imaplib.IMAP4(server.host, server.imap_port, timeout=10)
    try:
        client.login(user, server.password(user))
        yield client
    finally:
        client.logout()


def deliver(server: MailServer, to_user: str, sender: str, subject: str, body: str) -> None:
    """An outsider's message, submitted over SMTP (Postfix delivers it to Dovecot over LMTP); returns once
    the recipient's INBOX shows it."""
    message = EmailMessage()
    message_id = f"<{uuid.uuid4().hex}@outside.example>"
    message["From"], message["To"], message["Subject"] = sender, server.address(to_user), subject
    message["Message-ID"] = message_id
    message.set_content(body)
    with smtplib.SMTP(server.host, server.smtp_port, timeout=10) as smtp:
        smtp.login("bob", server.password("bob"))
        smtp.send_message(message)
    deadline = time.monotonic() + 15
    with imap(server, to_user) as client:
        while time.monotonic() < deadline:
            client.select("INBOX", readonly=True)
            _, found = client.search(None, "HEADER", "Message-ID", message_id)
            if found[0].split():
                return
            time.sleep(0.1)
    raise AssertionError(f"{message_id} did not reach {to_user}'s INBOX")


def file_message(server: MailServer, user: str, folder: str, subject: str, body: str) -> None:
    """A message of the owner's own (the private data an attacker wants), filed in `folder`."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = server.address(user), server.address(user), subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    message.set_content(body)
    with imap(server, user) as client:
        client.create(folder)  # NO when it exists: fine
        status, _ = client.append(folder, "(\\Seen)", None, bytes(message))
        assert status == "OK"


def postfix_attempts(server: MailServer, address: str) -> list[str]:
    """Postfix's delivery lines for `address` (mail it took and tried to deliver or bounced)."""
    log = server.root / "postfix.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line for line in text.splitlines() if f"to=<{address}>" in line]


def sent_copies(server: MailServer, user: str, address: str) -> int:
    with imap(server, user) as client:
        client.select("Sent", readonly=True)
        _, found = client.search(None, "TO", address)
        return len(found[0].split())


def wait_for(check: Any, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    return check()


# --- outbound HTTP --------------------------------------------------------------------------------------


@dataclass
class Receiver:
    url: str
    received: list[tuple[str, bytes]] = field(default_factory=list)


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A real HTTP server on loopback that records every request (an attacker's collector)."""
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.received.append((self.path, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


# --- runs, approvals, audit ---------------------------------------------------------------------------


def start(client: TestClient, owner: Person, agent: str, text: str) -> str:
    started = client.post("/api/v1/runs", headers=owner.auth, json={"agent": agent, "input": text})
    assert started.status_code == 202, started.text
    return str(started.json()["id"])


def run_view(client: TestClient, owner: Person, run_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/runs/{run_id}", headers=owner.auth)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def waiting_on(client: TestClient, context: AppContext, owner: Person, run_id: str) -> dict[str, Any]:
    """The one call the run waits for, as the approvals API shows it to the owner."""
    wait_status(context, run_id, "waiting_approval", timeout=60)
    (pending,) = run_view(client, owner, run_id)["pending_approvals"]
    shown = client.get(f"/api/v1/approvals/{pending['id']}", headers=owner.auth)
    assert shown.status_code == 200 and shown.json()["status"] == "pending", shown.text
    return dict(shown.json())


def approve(client: TestClient, owner: Person, approval_id: str) -> None:
    decided = client.post(
        f"/api/v1/approvals/{approval_id}", headers=owner.auth, json={"decision": "approve"}
    )
    assert decided.status_code == 200, decided.text


@dataclass(frozen=True)
class Record:
    kind: str
    tool: str | None
    rule: str | None
    outcome: str | None
    args: dict[str, Any]
    approval_id: str | None


def audit(context: AppContext, run_id: str) -> list[Record]:
    with context.db.session() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.run_id == run_id).order_by(AuditEvent.seq))
        return [Record(row.kind, row.tool, row.rule, row.outcome, json.loads(row.args_redacted or "{}"),
                       row.approval_id) for row in rows]  # fmt: skip


def denied(context: AppContext, run_id: str) -> list[tuple[str | None, str | None]]:
    """(tool, rule) of every call the gate refused in the run, from the audit log."""
    return [(r.tool, r.rule) for r in audit(context, run_id) if r.kind == "tool.denied"]


def executed(context: AppContext, run_id: str) -> list[tuple[str | None, str | None]]:
    return [(r.tool, r.rule) for r in audit(context, run_id) if r.kind == "tool.executed"]
