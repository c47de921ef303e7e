"""The `imap_idle` event source against Dovecot: new mail in watched folders becomes `email.received`
events, once each, across a connection the server drops."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from meshclaw.connectors.contract import Account, ApprovalAnswer, Event
from meshclaw.connectors.email import events
from meshclaw.connectors.email.config import EmailConfig
from meshclaw.connectors.email.manifest import connector
from tests.connectors.email.conftest import Mail, append, config, imap_for, token, wait_for
from tests.servers.mail import MailServer


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def emit(self, event: Event) -> None:
        self.events.append(event)

    async def answer(self, answer: ApprovalAnswer) -> None:
        raise AssertionError("email never answers approvals")


class _Started(logging.Handler):
    """The folders the event source has begun to watch (it logs each once it has taken UIDNEXT)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.folders: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        if str(record.msg).startswith("watching ") and isinstance(record.args, tuple):
            self.folders.add(str(record.args[1]))


@contextmanager
def watching(cfg: EmailConfig) -> Iterator[Sink]:
    """Runs the connector's event source on a loop in a thread until the block ends; checks it stops."""
    source = next(spec for spec in connector().events if spec.name == "imap_idle")
    account = Account(name="alice-mail", connector="email", owner_user_id=1, config=cfg)
    sink = Sink()
    ready = threading.Event()
    state: dict[str, object] = {}

    async def main() -> None:
        stop = asyncio.Event()
        state["loop"], state["stop"] = asyncio.get_running_loop(), stop
        ready.set()
        await source.run(account, sink, stop)

    # Mail delivered before a folder's connection takes UIDNEXT is old mail, never announced: the test
    # delivers only once the source says, in its debug line, that it watches every folder.
    watched = _Started()
    logger = logging.getLogger(events.__name__)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(watched)
    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    ready.wait(5)
    try:
        assert wait_for(lambda: watched.folders >= set(cfg.watch_folders), timeout=15), watched.folders
        yield sink
    finally:
        logger.removeHandler(watched)
        logger.setLevel(level)
        started = time.monotonic()
        loop, stop = state["loop"], state["stop"]
        loop.call_soon_threadsafe(stop.set)  # type: ignore[attr-defined]
        thread.join(10)
        assert not thread.is_alive(), "the event source did not stop"
        assert time.monotonic() - started < 3


def _folder(server: MailServer) -> str:
    name = f"Watch-{token()}"
    with imap_for(server, "alice") as client:
        client.create_folder(name)
    return name


def test_new_mail_becomes_untrusted_events_and_old_mail_does_not(mail_server: MailServer) -> None:
    folder = _folder(mail_server)
    append(
        mail_server,
        "alice",
        b"From: old@outside.example\r\nMessage-ID: <old@x>\r\n\r\nold\r\n",
        folder=folder,
    )
    cfg = config(mail_server, "alice", watch_folders=("INBOX", folder), idle_seconds=30)
    sender = Mail(mail_server, bob=config(mail_server, "bob"))
    with watching(cfg) as sink:
        append(
            mail_server,
            "alice",
            b"From: Eve <eve@outside.example>\r\nMessage-ID: <new-1@x>\r\n\r\nhi\r\n",
            folder=folder,
        )
        sent = sender.call(
            "email_send_message", account="bob", to=["alice@example.test"], subject=f"ev {token()}", body="x"
        )
        assert wait_for(lambda: any(e.fields["message_id"] == sent["message_id"] for e in sink.events))
        assert wait_for(lambda: any(e.fields["message_id"] == "<new-1@x>" for e in sink.events))
        time.sleep(1)  # room for a second event of the same message, were the source to emit one
    mine = [e for e in sink.events if e.fields["folder"] == folder]
    assert [e.fields["message_id"] for e in mine] == ["<new-1@x>"]
    assert mine[0] == Event(
        type="email.received", account="alice-mail",
        fields={"account": "alice-mail", "folder": folder, "sender": "eve@outside.example", "message_id": "<new-1@x>"},
        key=f"alice-mail/{folder}/<new-1@x>", untrusted=True,
    )  # fmt: skip
    delivered = [e for e in sink.events if e.fields["message_id"] == sent["message_id"]]
    assert len(delivered) == 1, "a message became two events"
    assert delivered[0].fields == {
        "account": "alice-mail",
        "folder": "INBOX",
        "sender": "bob@example.test",
        "message_id": delivered[0].fields["message_id"],
    }


def test_mail_that_arrives_while_disconnected_is_emitted_once_after_reconnecting(
    mail_server: MailServer,
) -> None:
    folder = _folder(mail_server)
    cfg = config(mail_server, "alice", watch_folders=(folder,), idle_seconds=30)
    with watching(cfg) as sink:
        append(
            mail_server,
            "alice",
            b"From: a@outside.example\r\nMessage-ID: <before@x>\r\n\r\n1\r\n",
            folder=folder,
        )
        assert wait_for(lambda: len(sink.events) == 1)
        kicked = subprocess.run(
            ["doveadm", "-c", str(mail_server.root / "dovecot.conf"), "kick", "alice"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
        assert "alice" in kicked.stdout + kicked.stderr, kicked
        append(
            mail_server,
            "alice",
            b"From: b@outside.example\r\nMessage-ID: <during@x>\r\n\r\n2\r\n",
            folder=folder,
        )
        assert wait_for(lambda: len(sink.events) >= 2, timeout=15)
        time.sleep(1)
    assert [e.fields["message_id"] for e in sink.events] == ["<before@x>", "<during@x>"]


def test_a_message_without_message_id_still_gets_a_unique_key(mail_server: MailServer) -> None:
    folder = _folder(mail_server)
    with watching(config(mail_server, "alice", watch_folders=(folder,))) as sink:
        append(
            mail_server,
            "alice",
            b"From: =?utf-8?q?J=C3=BCrgen?= <j@outside.example>\r\n\r\nno id\r\n",
            folder=folder,
        )
        append(mail_server, "alice", b"From: j@outside.example\r\n\r\nno id either\r\n", folder=folder)
        assert wait_for(lambda: len(sink.events) == 2)
    assert len({e.key for e in sink.events}) == 2
    assert sink.events[0].fields["sender"] == "j@outside.example"


def test_polling_without_idle_finds_new_mail(mail_server: MailServer) -> None:
    folder = _folder(mail_server)
    with watching(
        config(mail_server, "alice", watch_folders=(folder,), use_idle=False, idle_seconds=0.5)
    ) as sink:
        append(
            mail_server,
            "alice",
            b"From: p@outside.example\r\nMessage-ID: <polled@x>\r\n\r\nx\r\n",
            folder=folder,
        )
        assert wait_for(lambda: len(sink.events) == 1, timeout=5)
        # The connection lives on a thread of its own, not on one of the loop's shared executor threads.
        assert any(thread.name.startswith("email-watch-alice-mail") for thread in threading.enumerate())
    assert sink.events[0].fields["message_id"] == "<polled@x>"


def test_a_message_whose_headers_the_stdlib_cannot_parse_does_not_stop_the_watch(
    mail_server: MailServer,
) -> None:
    # The stdlib raised reading this sender; the watch retried the message forever and announced nothing
    # after it: one mail from anyone stopped an agent's email triggers.
    folder = _folder(mail_server)
    with watching(config(mail_server, "alice", watch_folders=(folder,))) as sink:
        append(mail_server, "alice", b"From: Eve <eve@\r\nMessage-ID: <broken@x>\r\n\r\nx\r\n", folder=folder)
        append(
            mail_server,
            "alice",
            b"From: ok@outside.example\r\nMessage-ID: <next@x>\r\n\r\ny\r\n",
            folder=folder,
        )
        assert wait_for(lambda: len(sink.events) == 2)
    assert [(e.fields["message_id"], e.fields["sender"]) for e in sink.events] == [
        ("<broken@x>", ""),
        ("<next@x>", "ok@outside.example"),
    ]
