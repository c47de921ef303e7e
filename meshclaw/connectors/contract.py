"""The shape every connector has, and the only things the rest of MeshClaw knows about one.

A connector is a folder `meshclaw/connectors/<name>/` that exposes `connector() -> Connector` from its
`manifest.py`. It declares:

- `config`: the schema of one *account* (a mailbox, a Slack workspace, a calendar, a deployment target),
  a pydantic model whose secret fields are `SecretStr`. Accounts are stored by the platform with every
  secret written as `vault:NAME`; the connector only ever sees the resolved config.
- `tools(accounts)`: its tools, `ToolSpec`s named `<name>_<verb>_<object>`, each with an effect class and
  the scope kinds a grant may narrow. A tool that acts through an account takes an `account` argument and
  asks `accounts.get(...)` for it at call time; the platform answers only with an account the running
  agent's owner may use (the policy gate has already checked the grant names it).
- `events`: long-running sources (IMAP IDLE, a Slack Socket Mode connection, a Matrix sync loop) that
  emit `Event`s, which start runs of agents whose event triggers match.
- `inbound`: a handler for HTTP requests the remote system sends to MeshClaw (Slack's Events API and
  interactivity, signed webhooks), mounted at `/api/v1/connectors/{account}/inbound`.
- `check(account)`: a cheap call that proves the account works (`meshclaw accounts test NAME`).
- chat connectors also implement `ask_approval`, which shows a pending approval in the chat (Slack
  buttons, Matrix reactions); a person's answer comes back as an `ApprovalAnswer` from `inbound` or an
  event source.

Nothing outside the folder knows the remote system's API (docs/ARCHITECTURE.md rule 5); connectors import
only `meshclaw.tools` and below.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from meshclaw.tools.registry import ToolSpec


class AccountConfig(BaseModel):
    """Base of every connector's account schema: unknown fields are refused (a typo must not be ignored),
    and a config never changes once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ConfigT = TypeVar("ConfigT", bound=AccountConfig)


@dataclass(frozen=True, kw_only=True, slots=True)
class Account(Generic[ConfigT]):
    """One configured account, its secrets resolved. Never logged whole: secrets are `SecretStr`."""

    name: str
    """What grants and tool arguments call it, e.g. `work-mail`."""
    connector: str
    owner_user_id: int | None
    """The person whose account it is; None for an organization account (a shared deploy target)."""
    config: ConfigT


class AccountError(Exception):
    """An account cannot be used: unknown, not this owner's, or its secret is missing. The message says
    which and how to fix it, without secrets."""


class Accounts(Protocol):
    """How tools reach accounts. The platform's implementation answers, for the call in progress, only
    accounts its agent's owner may use; tests use `StaticAccounts`."""

    async def get(self, connector: str, name: str, config: type[ConfigT]) -> Account[ConfigT]:
        """The account `name` of this connector, its config validated as `config`. Raises `AccountError`."""
        ...


@dataclass(kw_only=True)
class StaticAccounts:
    """Accounts held in memory: for tests and for tools called outside the platform."""

    accounts: Mapping[str, Account[Any]] = field(default_factory=dict)

    async def get(self, connector: str, name: str, config: type[ConfigT]) -> Account[ConfigT]:
        account = self.accounts.get(name)
        if account is None or account.connector != connector:
            raise AccountError(f"no {connector} account named '{name}'")
        if not isinstance(account.config, config):
            raise AccountError(f"account '{name}' is not configured as {config.__name__}")
        return account


# --- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Event:
    """Something happened in a remote system that may start runs (`engine.publish`)."""

    type: str
    """`noun.past_verb`: `email.received`, `chat.mentioned`, `chat.dm_received`, `deployment.started`,
    `webhook.received`, `calendar.meeting_started`."""
    account: str
    fields: Mapping[str, str]
    """Short, matchable values (`folder`, `channel`, `service`, `sender`); triggers filter on them by
    equality. Outsiders' text goes here only when `untrusted` is True."""
    key: str
    """Unique per happening (a Message-ID, a Slack event id, a Matrix event id): the platform starts runs
    for a key once, so a reconnect that replays events does not start them twice."""
    untrusted: bool = True
    """Whether outsiders wrote any of `fields`: the runs it starts begin tainted."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ApprovalAnswer:
    """A person answered an approval in a chat: the platform decides it as the MeshClaw user the account
    maps `external_user` to (and refuses an unmapped one)."""

    approval_id: str
    approved: bool
    account: str
    external_user: str
    """The chat's id of the person who answered (`U024BE7LH`, `@ana:example.org`)."""


class EventSink(Protocol):
    async def emit(self, event: Event) -> None: ...

    async def answer(self, answer: ApprovalAnswer) -> None: ...


EventSource = Callable[[Account[Any], EventSink, asyncio.Event], Awaitable[None]]
"""Runs until the `asyncio.Event` (stop) is set: watches the account and emits what happens. Must survive
the remote system's restarts (reconnect with backoff) and never emit one happening twice on its own."""


@dataclass(frozen=True, kw_only=True, slots=True)
class EventSourceSpec:
    name: str
    """e.g. `imap_idle`, `socket_mode`, `sync`."""
    emits: tuple[str, ...]
    """The event types it may emit, listed by `meshclaw connectors list`."""
    run: EventSource
    enabled: Callable[[Any], bool] = lambda config: True
    """Whether this account's config wants the source (Socket Mode needs an app token)."""


# --- inbound HTTP ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class InboundRequest:
    headers: Mapping[str, str]
    """Lower-case names."""
    body: bytes
    received_at: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class InboundReply:
    status: int = 200
    body: Mapping[str, Any] | str | None = None
    events: Sequence[Event] = ()
    answers: Sequence[ApprovalAnswer] = ()


InboundHandler = Callable[[Account[Any], InboundRequest], Awaitable[InboundReply]]
"""Verifies the request's signature with the account's secret first (401 when it does not match)."""


# --- approvals in chat ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ApprovalPrompt:
    """A pending approval, shown in a chat exactly: the tool and its full arguments, not a summary."""

    approval_id: str
    agent_name: str
    tool_name: str
    effect: str
    args_text: str
    """The exact arguments as indented JSON (show it verbatim, escaped for the chat's markup)."""
    reason: str
    expires_at: datetime
    url: str
    """The approval's page in the web UI."""


AskApproval = Callable[[Account[Any], ApprovalPrompt], Awaitable[str]]
"""Posts the prompt where the account's owner sees it (their DM); returns the chat's message id."""


# --- the connector --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class Connector:
    name: str
    """The tools' domain prefix and what accounts name as their connector: `email`, `slack`."""
    title: str
    config: type[AccountConfig]
    tools: Callable[[Accounts], Sequence[ToolSpec]]
    check: Callable[[Account[Any]], Awaitable[str]]
    """Proves the account works; returns a one-line description (`INBOX has 12 messages`)."""
    events: Sequence[EventSourceSpec] = ()
    inbound: InboundHandler | None = None
    ask_approval: AskApproval | None = None
    owner_identity: Callable[[Any], str | None] = lambda config: None
    """The owner's id in the remote system, read from an account's config (`owner_slack_user`): the only
    person whose answer in the chat decides an approval, as the account's owner. None refuses answers."""
    conditions: Mapping[str, Callable[[Account[Any], datetime], Awaitable[bool]]] = field(
        default_factory=dict
    )
    """Trigger conditions it answers (`owner_in_meeting`), from an account of the run's owner."""
