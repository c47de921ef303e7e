"""Where connectors meet the runs engine: their events start runs, chats show approvals and bring answers
back, and calendars answer trigger conditions.

- Event sources of every enabled account run as tasks on the server's loop, restarted when the account
  changes and after a crash (with backoff). An event starts runs once: its key is recorded first
  (`connector_event_keys`), so a source that replays events after a reconnect, or the same event seen by
  two processes, starts nothing twice.
- `announce` shows each new approval in the owner's chats (every enabled account of theirs whose connector
  can ask); an answer counts only from the person the account names as its owner in that chat, and is
  decided as the account's owner, like a click in the web inbox.
- A chat event gets `from_owner`: whether the account's owner there (`owner_identity`) wrote it; only the
  owner's messages are the owner's instructions (runs still start tainted, as the connector says). A
  reaction (`chat.reaction_added`) may rate an answer of a chat conversation (runs/chat_reply.py).
- Conditions (`owner_in_meeting`) are answered from the owner's accounts of a connector that answers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from meshclaw.accounts.store import open_account
from meshclaw.connectors.catalog import all_connectors, load
from meshclaw.connectors.contract import (
    Account,
    AccountError,
    ApprovalAnswer,
    ApprovalPrompt,
    Connector,
    Event,
    EventSourceSpec,
)
from meshclaw.context import AppContext
from meshclaw.db.models.connectors import ConnectorAccount, ConnectorEventKey
from meshclaw.db.models.identity import User
from meshclaw.runs import chat_reply
from meshclaw.vault.store import Vault

log = logging.getLogger("meshclaw.connectors")

RESCAN_S = 5.0
"""How often the hub looks for added, changed and removed accounts it was not told about (an account
changed by the CLI, or by another server process on the same database); the API pokes it at once."""
BACKOFF_S = (1.0, 5.0, 30.0, 120.0)
"""Waits before restarting a source that failed, by how many times in a row it has."""

NEGATIONS = {"owner_not_in_meeting": "owner_in_meeting"}
"""Conditions answered as the negation of another one."""

Publish = Callable[[str, dict[str, str], bool], list[str]]
"""`RunEngine.publish`: event type, fields, untrusted -> the run ids started (blocking)."""
Decide = Callable[[int, str, bool, str], Any]
"""(owner user id, approval id, approve, note) -> awaitable decision, as that owner."""


@dataclass(kw_only=True)
class _Running:
    version: tuple[Any, ...]
    stop: asyncio.Event
    tasks: list[asyncio.Task[None]]


@dataclass(kw_only=True)
class ConnectorHub:
    context: AppContext
    publish: Publish
    decide: Decide
    _running: dict[int, _Running] = field(default_factory=dict)
    _scanner: asyncio.Task[None] | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._scanner = asyncio.create_task(self._scan_forever(), name="meshclaw-connector-hub")

    async def close(self) -> None:
        if self._scanner is not None:
            self._scanner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scanner
            self._scanner = None
        for account_id in list(self._running):
            await self._stop(account_id)

    async def _scan_forever(self) -> None:
        while True:
            try:
                await self.rescan()
            except Exception:  # a bad account row must not stop every other account's events
                log.exception("scanning connector accounts failed; trying again in %s s", RESCAN_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), RESCAN_S)
            self._changed.clear()

    def poke(self) -> None:
        """An account was added, changed or removed: rescan now rather than within RESCAN_S. Safe to call
        from any thread (the API's handlers run in a thread pool)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._changed.set)

    async def rescan(self) -> None:
        """Start sources of new or changed accounts, stop those of removed or switched-off ones."""
        rows = await asyncio.to_thread(self._accounts_with_sources)
        wanted = {row.id: row for row in rows}
        for account_id in list(self._running):
            row = wanted.get(account_id)
            if row is None or _version(row) != self._running[account_id].version:
                await self._stop(account_id)
        for account_id, row in wanted.items():
            if account_id not in self._running:
                await self._start(row)

    def _accounts_with_sources(self) -> list[ConnectorAccount]:
        with_events = {c.name for c in all_connectors() if c.events}
        with self.context.db.session() as session:
            query = select(ConnectorAccount).where(ConnectorAccount.enabled.is_(True))
            rows = [row for row in session.scalars(query).all() if row.connector in with_events]
            session.expunge_all()
            return rows

    async def _start(self, row: ConnectorAccount) -> None:
        try:
            account = await asyncio.to_thread(self._open, row.id)
        except AccountError as exc:
            log.warning("account '%s' has event sources but cannot be opened: %s", row.name, exc)
            self._running[row.id] = _Running(version=_version(row), stop=asyncio.Event(), tasks=[])
            return
        stop = asyncio.Event()
        sink = _Sink(hub=self, account_id=row.id, account=account)
        tasks = [
            asyncio.create_task(self._supervise(spec, account, sink, stop), name=f"{row.name}:{spec.name}")
            for spec in load(row.connector).events
            if spec.enabled(account.config)
        ]
        self._running[row.id] = _Running(version=_version(row), stop=stop, tasks=tasks)

    async def _stop(self, account_id: int) -> None:
        running = self._running.pop(account_id)
        running.stop.set()
        for task in running.tasks:
            task.cancel()
        for task in running.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _supervise(
        self, spec: EventSourceSpec, account: Account[Any], sink: _Sink, stop: asyncio.Event
    ) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await spec.run(account, sink, stop)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the remote system went away: say so, wait, reconnect
                wait = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
                failures += 1
                log.warning("%s of account '%s' failed (%s); restarting in %s s", spec.name, account.name,
                            exc, wait)  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)

    def _open(self, account_id: int) -> Account[Any]:
        with self.context.db.session() as session:
            row = session.get(ConnectorAccount, account_id)
            if row is None:
                raise AccountError(f"account {account_id} is gone")
            return open_account(session, Vault.for_data_dir(self.context.settings.data_dir), row)

    # --- events and answers -----------------------------------------------------------------------

    async def dispatch(self, account_id: int, account: Account[Any], event: Event) -> list[str]:
        """Start the runs an event triggers, once per event key. Returns the run ids started."""
        first = await asyncio.to_thread(self._first_sight, account_id, event)
        if not first:
            return []
        fields = {**dict(event.fields), "account": account.name}
        # Whether the account's owner wrote it (in that chat): only the owner's messages are the owner's
        # instructions, so a chat assistant's trigger matches `from_owner = "true"`. Only chat events: a
        # chat server authenticates a message's author, a mail's From can be forged. The run still starts
        # tainted as the connector says (the text came through a channel others can write to).
        if event.type.startswith("chat."):
            owner = load(account.connector).owner_identity(account.config)
            author = fields.get("user") or fields.get("sender")  # Slack's and Matrix's name for the author
            fields["from_owner"] = "true" if owner is not None and author == owner else "false"
        if event.type == chat_reply.REACTION:
            await asyncio.to_thread(self._rate, fields)
        return await asyncio.to_thread(self.publish, event.type, fields, event.untrusted)

    def _rate(self, fields: dict[str, str]) -> None:
        with self.context.db.session() as session:
            chat_reply.record_rating(session, fields, now=self.context.clock.now())

    def _first_sight(self, account_id: int, event: Event) -> bool:
        try:
            with self.context.db.session() as session:
                session.add(ConnectorEventKey(account_id=account_id, key=event.key[:255], event_type=event.type,
                                              seen_at=self.context.clock.now()))  # fmt: skip
                session.flush()
        except IntegrityError:
            return False
        return True

    async def answer(self, account: Account[Any], answer: ApprovalAnswer) -> bool:
        """Decide an approval from a chat answer, as the account's owner, if the person who answered is
        the one the account names as its owner there. Returns whether it was decided."""
        connector = load(account.connector)
        expected = connector.owner_identity(account.config)
        if account.owner_user_id is None or expected is None or answer.external_user != expected:
            log.warning("ignored an approval answer in '%s' from %s: not the account's owner",
                        account.name, answer.external_user)  # fmt: skip
            return False
        note = f"answered in {account.connector} ({account.name})"
        try:
            await self.decide(account.owner_user_id, answer.approval_id, answer.approved, note)
        except Exception as exc:  # decided already, expired, not theirs: the chat answer changes nothing
            log.info("approval %s not decided from %s: %s", answer.approval_id, account.name, exc)
            return False
        return True

    # --- approvals shown in chats -----------------------------------------------------------------

    async def announce(self, owner_user_id: int, prompts: Sequence[ApprovalPrompt]) -> int:
        """Show approvals in every chat of the owner that can ask. Returns how many messages were posted;
        a chat that fails is logged and skipped (the web inbox still has the approval)."""
        accounts = await asyncio.to_thread(self._chat_accounts, owner_user_id)
        posted = 0
        for connector, account in accounts:
            assert connector.ask_approval is not None
            for prompt in prompts:
                try:
                    await asyncio.wait_for(connector.ask_approval(account, prompt), 30)
                    posted += 1
                except Exception as exc:
                    log.warning(
                        "could not show approval %s in '%s': %s", prompt.approval_id, account.name, exc
                    )
        return posted

    def _chat_accounts(self, owner_user_id: int) -> list[tuple[Connector, Account[Any]]]:
        askers = {c.name: c for c in all_connectors() if c.ask_approval is not None}
        found: list[tuple[Connector, Account[Any]]] = []
        with self.context.db.session() as session:
            query = select(ConnectorAccount).where(
                ConnectorAccount.owner_user_id == owner_user_id, ConnectorAccount.enabled.is_(True)
            )
            vault = Vault.for_data_dir(self.context.settings.data_dir)
            for row in session.scalars(query).all():
                if row.connector not in askers:
                    continue
                try:
                    found.append((askers[row.connector], open_account(session, vault, row)))
                except AccountError as exc:
                    log.warning("chat account '%s' cannot be opened: %s", row.name, exc)
        return found

    # --- conditions -------------------------------------------------------------------------------

    def condition_checker(self, name: str) -> Callable[..., bool] | None:
        """A blocking checker for the runs' guards, or None when no connector answers `name`."""
        # `owner_not_in_meeting` is the negation of what a calendar answers, not a question of its own.
        negated = name in NEGATIONS
        asked = NEGATIONS.get(name, name)
        answering = [c for c in all_connectors() if asked in c.conditions]
        if not answering:
            return None

        def check(*, owner_user_id: int, now: datetime) -> bool:
            accounts = self._owner_accounts(owner_user_id, {c.name for c in answering})
            if not accounts:
                raise AccountError(
                    f"the owner has no {' or '.join(c.name for c in answering)} account to ask"
                )
            results = []
            for account in accounts:
                condition = load(account.connector).conditions[asked]
                results.append(asyncio.run(asyncio.wait_for(condition(account, now), 30)))
            return not any(results) if negated else any(results)

        return check

    def _owner_accounts(self, owner_user_id: int, connectors: set[str]) -> list[Account[Any]]:
        with self.context.db.session() as session:
            owner = session.get(User, owner_user_id)
            if owner is None:
                return []
            query = select(ConnectorAccount).where(
                ConnectorAccount.owner_user_id == owner_user_id,
                ConnectorAccount.enabled.is_(True),
                ConnectorAccount.connector.in_(sorted(connectors)),
            )
            vault = Vault.for_data_dir(self.context.settings.data_dir)
            return [open_account(session, vault, row) for row in session.scalars(query).all()]


@dataclass(kw_only=True)
class _Sink:
    hub: ConnectorHub
    account_id: int
    account: Account[Any]

    async def emit(self, event: Event) -> None:
        await self.hub.dispatch(self.account_id, self.account, event)

    async def answer(self, answer: ApprovalAnswer) -> None:
        await self.hub.answer(self.account, answer)


def _version(row: ConnectorAccount) -> tuple[Any, ...]:
    return (row.updated_at, row.enabled, row.connector)
