"""`email.received`: new messages in the account's watched folders, found with IMAP IDLE (or polling when
the server has no IDLE).

One connection per folder, held by a worker thread (imapclient blocks). It remembers the highest UID it
has emitted; on the first connection it starts from the folder's UIDNEXT (only mail that arrives from now
on), and after a dropped connection it goes on from where it was, so mail that arrived meanwhile is still
emitted and nothing is emitted twice (unless the folder's UIDVALIDITY changed, when it starts over from
UIDNEXT). An event's key is the account, folder and Message-ID, so the platform starts runs for one message
once even if it is emitted again. Sender and Message-ID are written by outsiders: events are untrusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from meshclaw.connectors.contract import Account, Event, EventSink
from meshclaw.connectors.email import imap, mime
from meshclaw.connectors.email.config import EmailConfig

log = logging.getLogger(__name__)

EVENT = "email.received"
CHECK_STOP_S = 0.5
"""How often a waiting IDLE looks at the stop flag: the bound on how long stopping takes."""
MAX_BACKOFF_S = 30.0
STABLE_S = 60.0
"""A connection that lasted this long before failing resets the backoff."""


@dataclass
class _Position:
    uidvalidity: int | None = None
    last_uid: int | None = None


async def watch(account: Account[Any], sink: EventSink, stop: asyncio.Event) -> None:
    config: EmailConfig = account.config
    halt = threading.Event()

    async def relay_stop() -> None:
        await stop.wait()
        halt.set()

    relay = asyncio.create_task(relay_stop())
    try:
        await asyncio.gather(
            *(_watch_folder(account, folder, sink, stop, halt) for folder in config.watch_folders)
        )
    finally:
        halt.set()
        relay.cancel()


async def _watch_folder(
    account: Account[Any], folder: str, sink: EventSink, stop: asyncio.Event, halt: threading.Event
) -> None:
    config: EmailConfig = account.config
    loop = asyncio.get_running_loop()
    position = _Position()
    backoff = 1.0

    def emit(event: Event) -> None:
        asyncio.run_coroutine_threadsafe(sink.emit(event), loop).result(timeout=config.timeout_seconds)

    # A thread of its own for as long as the watch runs: holding one of the loop's default executor
    # threads per folder would starve every other `to_thread` caller of the process.
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"email-watch-{account.name}")
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                await loop.run_in_executor(thread, _session, account, folder, position, emit, halt)
            except Exception as error:  # a broken connection, a refused login, a server restart: try again
                if time.monotonic() - started > STABLE_S:
                    backoff = 1.0  # it had been working: this is a new outage, not the same one
                log.warning("email watch of %s/%s failed (%s); reconnecting in %.0f s", account.name, folder, error, backoff)  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
    finally:
        halt.set()
        thread.shutdown(wait=False)


def _session(
    account: Account[Any], folder: str, position: _Position, emit: Any, halt: threading.Event
) -> None:
    """Holds one connection until `halt` is set; raises when the connection fails (the caller reconnects)."""
    config: EmailConfig = account.config
    with imap.connected(config) as client:
        selected = client.select_folder(folder, readonly=True)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        if position.uidvalidity != uidvalidity or position.last_uid is None:
            if position.uidvalidity is not None:
                log.warning("UIDVALIDITY of %s/%s changed: starting over from new mail", account.name, folder)
            position.uidvalidity = uidvalidity
            position.last_uid = int(selected.get(b"UIDNEXT", 1)) - 1
        log.debug("watching %s/%s for mail after UID %d", account.name, folder, position.last_uid)
        idle = config.use_idle and client.has_capability("IDLE")
        while not halt.is_set():
            _emit_new(client, account, folder, position, emit)
            _wait(client, config, halt, idle=idle)


def _emit_new(client: Any, account: Account[Any], folder: str, position: _Position, emit: Any) -> None:
    last = position.last_uid or 0
    # `n:*` also matches the highest UID when it is below n, hence the filter.
    uids = sorted(uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last)
    if not uids:
        return
    found = client.fetch(uids, [b"BODY.PEEK[HEADER.FIELDS (FROM MESSAGE-ID)]"])
    for uid in uids:
        data = found.get(uid, {})
        raw = next((value for key, value in data.items() if key.startswith(b"BODY[HEADER")), b"") or b""
        headers = mime.parse(raw)
        message_id = mime.header(headers, "Message-ID") or f"<uid-{position.uidvalidity}-{uid}>"
        emit(
            Event(
                type=EVENT,
                account=account.name,
                fields={
                    "account": account.name,
                    "folder": folder,
                    "sender": mime.sender(headers),
                    "message_id": message_id,
                },
                key=f"{account.name}/{folder}/{message_id}",
                untrusted=True,
            )
        )
        position.last_uid = uid  # advanced only after the event was handed over


def _wait(client: Any, config: EmailConfig, halt: threading.Event, *, idle: bool) -> None:
    """Until the server reports a change, `idle_seconds` pass, or `halt` is set."""
    deadline = time.monotonic() + config.idle_seconds
    if not idle:
        while not halt.is_set() and time.monotonic() < deadline:
            halt.wait(CHECK_STOP_S)
        client.noop()
        return
    client.idle()
    try:
        while not halt.is_set() and time.monotonic() < deadline:
            if client.idle_check(timeout=CHECK_STOP_S):
                break
    finally:
        client.idle_done()
