"""The agent definition: one validated shape for files (TOML/YAML), the API and the web form.

A definition is data, never code. Every field is checked here, with `extra="forbid"` so a misspelt key is
an error instead of a silently ignored setting. Saving a changed definition creates a new immutable
version (agents.store); a run records the version it ran.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from meshclaw.clock import time_zone
from meshclaw.metering.bounds import MAX_TOKENS

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_TOOL = re.compile(r"^[a-z][a-z0-9_]{0,99}(\*)?$")


class _Strict(BaseModel):
    # No NaN or infinity: a definition is stored and exchanged as JSON, which has neither (an infinite
    # cost cap would be no cap, said in a way other readers of the definition cannot parse).
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False)


_SettingInt = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
"""A template setting's number: what JSON storage holds (a 70-bit one failed the save with a 500)."""
_SettingFloat = Annotated[float, Field(allow_inf_nan=False)]


def _check_timezone(value: str) -> str:
    if time_zone(value) is None:
        raise ValueError(
            f"unknown time zone '{value[:60]}': use an IANA name such as 'Europe/Berlin' or 'UTC'"
        )
    return value


class ModelChoice(_Strict):
    """Which configured model the agent thinks with (see `meshclaw providers list`)."""

    name: str = Field(min_length=1, max_length=200)
    """A model a configured provider serves, e.g. `gpt-4.1-mini` or `claude-sonnet-4-5`."""
    provider: str | None = None
    """The provider's name, when more than one serves the model; otherwise the routing table decides."""


class ToolGrant(_Strict):
    """One tool (or a family, `email_*`) the agent may call, on one connector account, within scopes."""

    tool: str
    """A registered tool name (`email_send_message`) or a prefix ending in `*` (`email_*`)."""
    account: str | None = None
    """The connector account the tool acts through (e.g. `work-mail`); None for tools without accounts."""
    scopes: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Narrowing per scope kind, e.g. {"folders": ["INBOX"], "recipient_domains": ["example.com"]}."""

    @field_validator("tool")
    @classmethod
    def _tool_name(cls, value: str) -> str:
        if not _TOOL.match(value):
            raise ValueError(
                f"'{value}' is not a tool name: use lower-case <domain>_<verb>_<object>, optionally ending in '*'"
            )
        return value


class McpServer(_Strict):
    """An MCP server whose tools become a toolset of the agent. Exactly one of `command` or `url`."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    """Stable id; the server's tools are exposed as `<name>_<tool>`."""
    command: tuple[str, ...] | None = None
    """stdio transport: the program and its arguments, run without a shell."""
    url: str | None = None
    """Streamable HTTP transport: the server's endpoint URL."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment for a stdio server. A value `vault:NAME` is read from the vault when a run starts
    (the owner's secret NAME, else the organization's), so the file holds no credential."""
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    """How long one tool call may take before it fails the step."""

    @model_validator(mode="after")
    def _one_transport(self) -> McpServer:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of 'command' (stdio) or 'url' (streamable HTTP)")
        if self.command is not None and not self.command:
            raise ValueError("'command' is empty: give the program and its arguments as a list")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"'url' must start with http:// or https://, not '{self.url}'")
        return self


Condition = Literal["owner_in_meeting", "owner_not_in_meeting"]
"""A guard answered at fire time (by the calendar connector); a trigger whose condition is false is skipped."""


class CronTrigger(_Strict):
    kind: Literal["cron"] = "cron"
    cron: str
    """Five-field cron (`0 7 * * 1-5`) or the short form `weekdays 07:00` / `daily 03:00` / `mondays 09:30`.
    A short form may end in a time zone (`weekdays 07:00 Europe/Berlin`), which then fills `timezone`."""
    timezone: str = "UTC"
    condition: Condition | None = None

    _tz = field_validator("timezone")(_check_timezone)

    @model_validator(mode="before")
    @classmethod
    def _zone_in_short_form(cls, data: object) -> object:
        # "weekdays 07:00 Europe/Berlin" is how people write it (and how the issue does): move the zone to
        # its field, so the stored definition has one place for it.
        if not isinstance(data, dict) or not isinstance(data.get("cron"), str):
            return data
        parts = data["cron"].split()
        if len(parts) == 3 and parts[0].lower() in _SHORT_DAYS:
            if "timezone" in data and data["timezone"] != parts[2]:
                raise ValueError(
                    f"the cron names time zone '{parts[2]}' and 'timezone' says '{data['timezone']}': "
                    "give it once"
                )
            return {**data, "cron": " ".join(parts[:2]), "timezone": parts[2]}
        return data

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        cron_expression(value)
        return value

    def expression(self) -> str:
        """The five-field cron expression this trigger fires on (the short form translated)."""
        return cron_expression(self.cron)


_SHORT_DAYS = {
    "daily": "*",
    "weekdays": "1-5",
    "weekends": "6,0",
    **{
        f"{day}s": str(number)
        for number, day in enumerate(
            ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
        )
    },
}
"""Short forms and the day-of-week field each stands for (cron counts Sunday as 0)."""
_SHORT_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_NEVER_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
"""A fixed start for the "does it ever fire" check, so validation does not depend on today's date."""


def cron_expression(text: str) -> str:
    """Translate a short form (`weekdays 07:00`) to cron and check the result: five fields, a valid
    expression, and one that fires at all. Raises ValueError with a message saying how to fix it."""
    parts = text.split()
    if parts and parts[0].lower() in _SHORT_DAYS:
        time = _SHORT_TIME.match(parts[1]) if len(parts) == 2 else None
        if time is None:
            raise ValueError(
                f"'{text}' is not a short schedule: write '{parts[0]} HH:MM' (24-hour), e.g. '{parts[0]} 07:00'"
            )
        return f"{int(time.group(2))} {int(time.group(1))} * * {_SHORT_DAYS[parts[0].lower()]}"
    if len(parts) == 6:
        raise ValueError(
            f"'{text}' has six fields (a seconds field): a schedule fires at most once a minute; "
            "use five fields: minute hour day-of-month month day-of-week"
        )
    if len(parts) != 5:
        raise ValueError(
            f"'{text}' is not a schedule: use five cron fields (minute hour day-of-month month "
            "day-of-week, e.g. '0 7 * * 1-5') or a short form such as 'weekdays 07:00' or 'daily 03:00'"
        )
    # croniter is imported here: only validation and the scheduler need it, not every importer of the spec.
    from croniter import CroniterBadDateError, croniter

    expression = " ".join(parts)
    if not croniter.is_valid(expression):
        raise ValueError(
            f"'{text}' is not a valid cron expression: use five fields (minute hour day-of-month month "
            "day-of-week), e.g. '0 7 * * 1-5'"
        )
    try:
        croniter(expression, _NEVER_BEFORE).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(
            f"'{text}' never fires (no such date, e.g. 30 February): check day and month"
        ) from None
    return expression


class IntervalTrigger(_Strict):
    kind: Literal["interval"] = "interval"
    every_seconds: int = Field(ge=60, le=31 * 86400)
    """At least a minute: an agent that wakes every second is a runaway, not a schedule."""
    condition: Condition | None = None


class OnceTrigger(_Strict):
    kind: Literal["once"] = "once"
    at: datetime
    """When to run, with a UTC offset (`2026-12-24T09:00:00+01:00`)."""

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("'at' needs a UTC offset or 'Z', e.g. 2026-12-24T09:00:00+01:00")
        return value


class EventTrigger(_Strict):
    kind: Literal["event"] = "event"
    event: str = Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
    """`noun.past_verb` as connectors emit them: `email.received`, `chat.mentioned`, `chat.dm_received`,
    `webhook.received`, `deployment.started`."""
    match: dict[str, str] = Field(default_factory=dict)
    """Equality filters on the event's fields, e.g. {"account": "work-mail"} or {"service": "web"}."""
    text_matches: str | None = Field(default=None, min_length=1, max_length=500)
    """A regular expression the event's `text` field must match at its start, ignoring case, e.g.
    `deploy\\b` for chat messages meant for a deploy agent. Checked before a run is recorded, so a message
    that is not for this agent costs nothing."""
    fallback: bool = False
    """Fire only when no trigger of another of the same owner's agents (one that is not a fallback itself)
    matched the same event: the owner's chat assistant answers the DMs their deploy agent does not claim,
    instead of both answering one message."""
    condition: Condition | None = None

    @field_validator("text_matches")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a valid regular expression ({error}); e.g. 'deploy\\b'") from None
        return value


_TRIGGER_KEYS = (("cron", "cron"), ("every_seconds", "interval"), ("at", "once"), ("event", "event"))
"""The key that implies a trigger's kind when `kind` is left out."""

Trigger = Annotated[CronTrigger | IntervalTrigger | OnceTrigger | EventTrigger, Field(discriminator="kind")]


class RunLimits(_Strict):
    """Per-run ceilings; a run that reaches one ends with status `budget_exceeded`."""

    max_steps: int = Field(default=20, ge=1, le=1000)
    """Model requests in one run."""
    max_tool_calls: int = Field(default=30, ge=0, le=5000)
    max_tokens: int = Field(default=200_000, ge=1, le=MAX_TOKENS)
    max_cost_usd: float = Field(default=1.0, gt=0)
    max_seconds: int = Field(default=600, ge=1, le=7 * 86400)
    """Wall time of the run's own work; time spent waiting for an approval does not count."""


class DailyLimits(_Strict):
    """Per-agent caps per UTC day: the guards against runaway automation."""

    max_runs: int = Field(default=48, ge=1, le=100_000)
    max_cost_usd: float = Field(default=10.0, gt=0)
    max_tokens: int = Field(default=2_000_000, ge=1, le=MAX_TOKENS)


_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class Dreaming(_Strict):
    """Nightly memory consolidation (`meshclaw.agents.memory.dreaming`): a run with trigger kind `dream`
    at `at` local time, e.g. `dreaming = { at = "03:00", timezone = "Europe/Berlin", max_tokens = 20000 }`."""

    at: str = "03:00"
    """Local time of day, `HH:MM` (24 h)."""
    timezone: str = "UTC"
    max_tokens: int = Field(default=20_000, ge=0, le=10_000_000)
    """The night's model budget for merging near-duplicates; 0 (or no model) consolidates by rules only."""
    max_drop_share: float = Field(default=0.10, ge=0.0, le=1.0)
    """At most this share of the memory held before tonight may be dropped in one night."""

    _tz = field_validator("timezone")(_check_timezone)

    @field_validator("at")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError(f"'{value}' is not a time of day: give HH:MM (24 h), e.g. '03:00'")
        return value

    def cron(self) -> CronTrigger:
        """The schedule as a cron trigger (slots, time zones and DST as for any cron trigger)."""
        hour, minute = self.at.split(":")
        return CronTrigger(cron=f"{int(minute)} {int(hour)} * * *", timezone=self.timezone)


class AgentSpec(_Strict):
    """Everything that defines an agent. Its owner is not here: the owner is who applies it (or, for an
    admin, the `owner` given to the API), so a file cannot claim someone else's rights."""

    name: str
    """Unique per owner: lower-case letters, digits, '-' and '_' (`inbox-triage`)."""
    purpose: str = Field(default="", max_length=2000)
    """One or two sentences people read in lists and approvals."""
    instructions: str = Field(default="", max_length=100_000)
    """The system prompt, for model steps."""
    model: ModelChoice | None = None
    """None for purely deterministic playbooks: such an agent never calls a model."""
    tools: tuple[ToolGrant, ...] = ()
    mcp_servers: tuple[McpServer, ...] = ()
    skills: tuple[str, ...] = ()
    """Agent Skills folders (each holds a SKILL.md), by installed skill name."""
    triggers: tuple[Trigger, ...] = ()
    """Besides these, an agent can always be run by hand ("run now")."""
    limits: RunLimits = RunLimits()
    daily: DailyLimits = DailyLimits()
    allow_overlap: bool = False
    """Whether a new run may start while one of this agent's runs is still going."""
    memory: bool = True
    """Whether the agent gets `remember` and `recall` and its own memory store."""
    dreaming: Dreaming | None = None
    """Nightly consolidation of the agent's memory; None: the agent does not dream. Needs `memory`."""
    unattended_approvals: Literal["wait", "skip"] = "wait"
    """When a run nobody is watching reaches a call that needs a person's approval: `wait` queues the
    approval and the run waits for it (durably, for days); `skip` refuses the call and the run carries on
    (the model reads why)."""
    tainted_answers: Literal["clean", "as_written"] = "clean"
    """The text answer of a run that read outsiders' text (mail, others' messages, web pages) through its
    tools: `clean` writes it again from a context without that text, which the answer can only quote
    (one more model request; an injected "tell her to book this hotel" never becomes the agent's words);
    `as_written` keeps the answer the model wrote while reading it."""
    template: str | None = None
    """The template (Playbooks issue) this agent was created from, if any; the runtime dispatches on it."""
    settings: dict[str, str | _SettingInt | _SettingFloat | bool | list[str]] = Field(default_factory=dict)
    """Template-specific settings (VIP senders, watched services, digest time)."""

    @model_validator(mode="before")
    @classmethod
    def _trigger_kinds(cls, data: object) -> object:
        # A trigger's kind is implied by its one distinctive key, so `{cron = "daily 03:00"}` needs no
        # `kind = "cron"`; an explicit kind always wins, and a trigger with neither gets the union's error.
        if not isinstance(data, dict) or not isinstance(data.get("triggers"), list | tuple):
            return data
        triggers = [
            {**t, "kind": next((kind for key, kind in _TRIGGER_KEYS if key in t), None)}
            if isinstance(t, dict) and "kind" not in t and any(key in t for key, _ in _TRIGGER_KEYS)
            else t
            for t in data["triggers"]
        ]
        return {**data, "triggers": triggers}

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"'{value}' is not an agent name: use 1-63 lower-case letters, digits, '-' or '_', "
                "starting with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _dreaming_needs_memory(self) -> AgentSpec:
        if self.dreaming is not None and not self.memory:
            raise ValueError("dreaming consolidates the agent's memory: set memory = true or remove dreaming")
        return self

    @model_validator(mode="after")
    def _unique_names(self) -> AgentSpec:
        seen: set[str] = set()
        for server in self.mcp_servers:
            if server.name in seen:
                raise ValueError(f"two MCP servers are named '{server.name}': names must be unique")
            seen.add(server.name)
        return self
