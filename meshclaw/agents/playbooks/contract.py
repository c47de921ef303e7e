"""Playbooks: agents whose steps are code, not a model's choices (inbox triage, deployment watch).

A playbook is a coroutine that gets `Steps` and returns its answer. It acts only through `steps.tool(...)`,
which puts every call through the same policy gate, durable step and audit as a model-driven agent's; it
asks the model only through `steps.choose(...)`, a quarantined call with no tools whose answer must be one
of a fixed set of labels, so untrusted text (an email's body) can decide a label but never an action
(the action-selector pattern, ../shared/research/security.md section 2).

A playbook must be deterministic given what its steps return: when a call waits for a person's approval,
the run's next segment runs the playbook again from the top, and every step that already happened is
answered from the segment's record instead of happening again.

    async def triage(steps: Steps) -> str:
        found = await steps.tool("email_search_messages", account=steps.settings["account"], unseen=True)
        for message in found["messages"]:
            label = await steps.choose(message["subject"], ("urgent", "fyi"), instructions="...")
            ...
        steps.outcome("email.triaged", quantity=len(found["messages"]), minutes_saved=...)
        return "done"
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meshclaw.agents.playbooks.steps import Steps


class Refused(Exception):
    """A tool call the policy gate denied, or a person refused: the playbook decides what to do next
    (skip the item, say so in its answer)."""

    def __init__(self, tool: str, reason: str, rule: str) -> None:
        super().__init__(f"{tool}: {reason}")
        self.tool, self.reason, self.rule = tool, reason, rule


class StepFailed(Exception):
    """A tool ran and failed (a server down, a bad argument): its message is meant for people."""

    def __init__(self, tool: str, message: str) -> None:
        super().__init__(f"{tool}: {message}")
        self.tool, self.message = tool, message


PlaybookBody = Callable[["Steps"], Awaitable[str | dict[str, Any]]]


@dataclass(frozen=True, kw_only=True)
class Playbook:
    name: str
    """What an agent's `template` names to run it, e.g. `inbox-triage`."""
    title: str
    run: PlaybookBody
