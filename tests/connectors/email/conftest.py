"""Fixtures for the email connector's tests: the real mail server (tests/servers/mail.py), accounts on it,
the tools bound to them, and a way to put a message straight into a mailbox (IMAP APPEND) for the tests
that need exact bytes, like malformed MIME."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from imapclient import IMAPClient

from meshclaw.connectors.contract import Account, StaticAccounts
from meshclaw.connectors.email.config import EmailConfig, Security
from meshclaw.connectors.email.manifest import connector
from meshclaw.tools.idempotency import bind, unbind
from meshclaw.tools.registry import ToolSpec
from tests.servers.mail import MailServer, mail_server

__all__ = ["mail_server"]

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a loop of its own in a worker thread (never asyncio.run on the main thread)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def config(
    server: MailServer, user: str, *, security: Security = "plain", password: str | None = None, **fields: Any
) -> EmailConfig:
    imap_port = {"tls": server.imaps_port, "starttls": server.imap_port, "plain": server.imap_port}[security]
    smtp_port = {"tls": server.smtps_port, "starttls": server.submission_port, "plain": server.smtp_port}[
        security
    ]
    values: dict[str, Any] = {
        "address": server.address(user),
        "username": user,
        "password": password if password is not None else server.password(user),
        "imap_host": "localhost" if security != "plain" else server.host,
        "imap_port": imap_port,
        "imap_security": security,
        "smtp_host": "localhost" if security != "plain" else server.host,
        "smtp_port": smtp_port,
        "smtp_security": security,
        "ca_file": str(server.ca_file),
        "timeout_seconds": 5,
    }
    values.update(fields)
    return EmailConfig.model_validate(values)


class Mail:
    """The tools of one or more accounts, called the way the platform calls them."""

    def __init__(self, server: MailServer, **accounts: EmailConfig) -> None:
        self.server = server
        self.accounts = StaticAccounts(
            accounts={
                name: Account(name=name, connector="email", owner_user_id=1, config=cfg)
                for name, cfg in accounts.items()
            }
        )
        self.tools: dict[str, ToolSpec] = {tool.name: tool for tool in connector().tools(self.accounts)}

    def call(self, name: str, *, key: str | None = None, **arguments: Any) -> Any:
        tool = self.tools[name]
        args = tool.args.model_validate(arguments)

        async def invoke() -> Any:
            token = bind(key) if key is not None else None
            try:
                return await tool.function(args)
            finally:
                if token is not None:
                    unbind(token)

        return run(invoke())


@pytest.fixture
def mail(mail_server: MailServer) -> Mail:
    """Accounts `alice`, `bob`, `carol` over plain connections (TLS variants are tested on their own)."""
    return Mail(mail_server, **{user: config(mail_server, user) for user in ("alice", "bob", "carol")})


def imap_for(server: MailServer, user: str) -> IMAPClient:
    client = IMAPClient(server.host, port=server.imap_port, ssl=False, timeout=10)
    client.login(user, server.password(user))
    return client


def append(server: MailServer, user: str, raw: bytes, *, folder: str = "INBOX") -> int:
    """Put `raw` into a mailbox as it is; returns its UID."""
    with imap_for(server, user) as client:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        response = client.append(folder, raw)
        return int(response.split(b"APPENDUID ")[1].split(b" ")[1].rstrip(b"]"))


def wait_for(found: Callable[[], T], *, timeout: float = 10) -> T:
    """Poll until `found()` is truthy (mail goes through Postfix and LMTP asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = found()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def token() -> str:
    return uuid.uuid4().hex[:10]
