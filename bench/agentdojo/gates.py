"""The gates the benchmark can put in front of the agent, by name: `policy` is the runs engine's gate with
its default policy (no organization rows: an empty egress allowlist, no pre-approvals); `default` the
runtime's earlier deny-by-default gate; `none` lets everything through (the baseline)."""

from __future__ import annotations

from collections.abc import Callable

from bench.agentdojo.harness import NoGate
from meshclaw.agents.runtime.contract import ToolGate
from meshclaw.agents.runtime.default_gate import DefaultGate
from meshclaw.policy.gate import PolicyGate

GATES: dict[str, Callable[[], ToolGate]] = {"none": NoGate, "default": DefaultGate, "policy": PolicyGate}


def make_gate(name: str) -> ToolGate:
    return GATES[name]()
