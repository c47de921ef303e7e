"""The runtime's contract with the runs layer: what a run is asked to do, what it reports, and the
callbacks it calls. Plain dataclasses and Protocols, with no pydantic-ai type in any signature, so the
runs layer (DBOS workflows, run tables) never depends on the agent loop library.

One call runs one *segment* of a run: from the input (or from a stored history plus approval decisions)
until the agent answers, a limit trips, or a tool call waits for a human. A run that waits returns
`waiting_approval` with the exact pending calls and the history bytes to store; the runs layer waits
durably and calls `execute` again with `ResumeState`. Usage in a result counts that segment only, so
summing the segments of a run never double counts.

    result = await execute(request, sink=sink, gate=gate, tools=registry, model_factory=models)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx2

from meshclaw.agents.runtime.flow import UntrustedContent
from meshclaw.agents.spec import AgentSpec
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolSpec

RunMode = Literal["attended", "unattended"]
"""Attended: a person started the run and is watching (chat, "run now"). Unattended: a trigger did."""
RunStatus = Literal["succeeded", "failed", "budget_exceeded", "waiting_approval", "cancelled"]
Decision = Literal["allow", "deny", "needs_approval"]
ToolOrigin = Literal["builtin", "connector", "mcp", "skill", "memory"]
ToolStatus = Literal["ok", "error", "denied", "pending"]
"""ok / error: the tool ran; denied: the gate refused it; pending: it waits for an approval."""
LimitName = Literal["max_steps", "max_tool_calls", "max_tokens", "max_cost_usd", "max_seconds"]


def args_digest(args: Mapping[str, Any]) -> str:
    """SHA-256 of the arguments as canonical JSON: what an approval is bound to and what steps record."""
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- input --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ApprovalDecision:
    """A person's answer to one pending tool call, as the runs layer stored it."""

    tool_call_id: str
    approved: bool
    args_digest: str
    """The digest of the exact arguments approved (the edited ones, if edited); a call whose arguments
    differ is not approved."""
    approval_id: str | None = None
    """The approval record (Safety issue), named in the tool step."""
    reason: str | None = None
    """For a denial: told to the model as the tool's result."""
    args: Mapping[str, Any] | None = None
    """Arguments a person edited before approving: the tool runs with these (validated against its schema
    first), and `args_digest` is their digest. None: approved as asked."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ResumeState:
    history: bytes
    """`RunResult.history` of the segment that stopped for approval, exactly as returned (opaque)."""
    decisions: tuple[ApprovalDecision, ...]
    """One per pending call; a pending call without a decision is treated as denied."""


# --- output -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class TokenCounts:
    """Exclusive buckets, as metering counts them (they add up to `total`)."""

    input_uncached: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output: int = 0
    reasoning: int = 0

    @property
    def total(self) -> int:
        return self.input_uncached + self.cache_read + self.cache_write + self.output + self.reasoning


@dataclass(frozen=True, kw_only=True, slots=True)
class UsageTotals:
    tokens: TokenCounts = TokenCounts()
    cost_usd: float | None = None
    """None when no model call of the segment had a known price (not the same as 0)."""
    requests: int = 0
    tool_calls: int = 0
    """Tool calls that ran (denied and pending calls excluded)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PendingApproval:
    tool_call_id: str
    tool_name: str
    args: Mapping[str, Any]
    """The exact arguments the tool will run with once approved."""
    args_digest: str
    effect: EffectClass
    reason: str
    """Why the gate asked (shown next to the action)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class OutcomeNote:
    """Something the run accomplished (`email.triaged`, `regression.caught`), for Clarity's value
    measures. `seq` numbers it within the run, so the runs layer records it once however often a segment
    reports it again (a playbook replayed after an approval reports its earlier outcomes again)."""

    seq: int
    type: str
    quantity: float = 1.0
    minutes_saved: float | None = None
    accepted: bool | None = None
    attributes: Mapping[str, str | int | float | bool] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class RunResult:
    status: RunStatus
    output: str | dict[str, Any] | None = None
    error: str | None = None
    """For failed / budget_exceeded / cancelled: what happened, secret-free, meant for the owner."""
    limit: LimitName | None = None
    """For budget_exceeded: which per-run limit tripped."""
    usage: UsageTotals = UsageTotals()
    pending: tuple[PendingApproval, ...] = ()
    history: bytes | None = None
    """The message history to store for resuming (set with waiting_approval, and on success for chats)."""
    tainted: bool = False
    """Whether the run so far (this segment and the earlier ones) read content outsiders can write: store
    it and pass it as `RunRequest.tainted` to the next segment."""
    outcomes: tuple[OutcomeNote, ...] = ()
    """What the run accomplished so far (playbooks report these; see `OutcomeNote.seq`)."""
    clean_answer: bool = False
    """Whether `output` was written apart from outsiders' text, because the run read some (`clean_answer`)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class EarlierTurn:
    """One finished turn of the chat a message continues."""

    message: str
    """What the person wrote: their own words."""
    reply: str
    """What the agent answered."""
    reply_untrusted: bool = False
    """The run that wrote the reply read outsiders' text or began tainted: the reply may repeat their words
    (as a quotation, or because the model was talked into it)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Conversation:
    """A chat message's run, in parts: `RunRequest.input` carries the same turns as one transcript, which
    the agent's own model requests see. The answer written apart (`clean_answer`) cannot take that
    transcript as the person's words: only `message` is their request there, and a reply that may repeat
    outsiders' text is withheld like their text is."""

    earlier: tuple[EarlierTurn, ...] = ()
    """The turns the transcript carries, oldest first."""
    message: str
    """What the person writes now."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RunRequest:
    run_id: str
    agent_id: int
    agent_version_id: int
    owner_user_id: int
    team_id: int | None = None
    """The owner's team when the run started (stamped on usage); None if unknown."""
    spec: AgentSpec
    input: str = ""
    """The task or message; ignored when resuming."""
    mode: RunMode = "unattended"
    resume: ResumeState | None = None
    output_schema: Mapping[str, Any] | None = None
    """A JSON Schema (an object) for a structured answer; then `RunResult.output` is a dict."""
    spent: UsageTotals = UsageTotals()
    """What the run's earlier segments used: counted against the per-run limits of this one."""
    spent_seconds: float = 0.0
    """Wall time of the earlier segments' own work (time waiting for approval excluded)."""
    tainted: bool = False
    """Whether an earlier segment of the run read content outsiders can write (`RunResult.tainted`)."""
    untrusted_input: bool = False
    """Whether outsiders may have written `input`: an event they can cause started the run (an inbound
    email, someone's chat message, a webhook). Set at the start and kept for every segment. The run is
    tainted from its start (`tainted` says so too); a playbook also counts each tool argument that carries
    one of the event's values as carrying untrusted content (`Steps`)."""
    conversation: Conversation | None = None
    """For a chat message: the conversation `input` carries as a transcript, in parts (None otherwise)."""
    mcp_effects: Mapping[str, EffectClass] = field(default_factory=dict)
    """An admin's classification of MCP tools by exposed name (`<server>_<tool>`); others are UNCLASSIFIED."""
    mcp_env: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    """Per MCP server name, the environment values its `vault:NAME` references resolved to (secrets: kept
    out of repr, never stored or logged; set by the runs layer at each segment's start)."""


# --- callbacks ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class ModelCallStep:
    model: str
    tokens: TokenCounts
    cost_usd: float | None
    latency_ms: int
    purpose: str | None = None
    """Why this request, when it is not a step of the agent's own loop (the answer written apart)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolCallStep:
    tool_call_id: str
    name: str
    args_digest: str
    effect: EffectClass
    decision: Decision
    reason: str
    status: ToolStatus
    error: str | None = None
    latency_ms: int = 0
    approval_id: str | None = None
    """Set when the call ran on an approval."""
    rule: str = ""
    """The policy rule that decided (`GateDecision.rule`)."""
    args: Mapping[str, Any] | None = field(default=None, repr=False)
    """The exact arguments, for the audit log (which stores them redacted next to their digest)."""
    taint_sources: tuple[str, ...] = ()
    """The tools whose untrusted content the run had read when the call was decided."""


class StepSink(Protocol):
    """What the runs layer implements to record a run's steps. Called on the run's event loop; a slow
    sink slows the run, so write quickly or queue."""

    async def model_call(self, step: ModelCallStep) -> None: ...

    async def tool_call(self, step: ToolCallStep) -> None: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolCall:
    """One call the model asked for, as the gate sees it."""

    tool_call_id: str
    name: str
    args: Mapping[str, Any]
    args_digest: str
    effect: EffectClass
    origin: ToolOrigin
    scopes: tuple[str, ...] = ()
    approval: ApprovalDecision | None = None
    """A person's approval of this very call (matched by id; its digest may still differ: check it)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RunInfo:
    """The run, as the gate sees it at the moment of a call."""

    run_id: str
    agent_id: int
    owner_user_id: int
    mode: RunMode
    spec: AgentSpec
    effects_seen: frozenset[EffectClass] = frozenset()
    """Effect classes of the tools that ran so far in this segment."""
    tainted_before: bool = False
    """Whether an earlier segment read untrusted content."""
    untrusted: UntrustedContent | None = None
    """What this run read from outsiders, to tell whether it flowed into a call's arguments."""

    @property
    def tainted(self) -> bool:
        """Has the run read content outsiders can write (a tool whose result they can write ran, now or
        before)?"""
        read = self.untrusted is not None and bool(self.untrusted.sources)
        return self.tainted_before or read or EffectClass.READ_UNTRUSTED in self.effects_seen


@dataclass(frozen=True, kw_only=True, slots=True)
class GateDecision:
    decision: Decision
    reason: str
    """Told to the model on a denial and shown with an approval request; never contains secrets."""
    rule: str = ""
    """Which rule decided (`grant.missing`, `rule_of_two`, `egress.external`...), for the audit log."""


class ToolGate(Protocol):
    async def decide(self, call: ToolCall, run: RunInfo) -> GateDecision: ...


class RunToolSource(Protocol):
    """Tools that exist per run rather than in the registry (memory's `remember`/`recall`, bound to the
    agent): the runtime asks each source once per segment and shows the model what it returns; the gate
    still decides each call (the default gate grants tools whose origin is `memory`). A source returns
    nothing when the spec does not want its tools (memory off)."""

    def tools_for(self, request: RunRequest) -> Sequence[ToolSpec]: ...

    def instructions_for(self, request: RunRequest) -> str | None:
        """Text appended to the agent's instructions for this run (the skills it may load), or None."""
        ...


# --- models ---------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class GatewayEndpoint:
    """Where the agent's model calls go: the gateway's own API, usually in process (`transport`), with a
    credential that attributes every call to the run. Usage, pricing and budgets happen there, once."""

    api: Literal["openai", "anthropic"]
    model: str
    base_url: str
    """The gateway's `/v1` URL (OpenAI style) or its root (Anthropic style)."""
    credential: str = field(repr=False)
    transport: httpx2.AsyncBaseTransport | None = field(default=None, repr=False)
    """An in-process transport to the gateway app; None to go over the network to `base_url`."""
    timeout_s: float = 600.0


@dataclass(frozen=True, kw_only=True, slots=True)
class ScriptedEndpoint:
    """A test double: a scripted model built by `meshclaw.agents.runtime.testing` (held as `object` so
    this contract names no pydantic-ai type). Never produced by the server."""

    model: object
    name: str = "scripted"


ModelEndpoint = GatewayEndpoint | ScriptedEndpoint


class ModelUnavailable(Exception):
    """The agent's model cannot be reached; the message says how to configure one."""


class ModelFactory(Protocol):
    def endpoint(self, request: RunRequest) -> ModelEndpoint:
        """Where this run's model calls go. Raises `ModelUnavailable` when no provider serves the model."""
        ...

    def price_usd(self, model: str, tokens: TokenCounts) -> float | None:
        """The cost of one call by the same prices metering uses (None if the model has no price), for the
        per-run cost limit."""
        ...
