"""The gates the benchmark can put in front of the agent, by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from bench.agentdojo.harness import NoGate
from meshclaw.agents.runtime.contract import ToolGate
from meshclaw.agents.runtime.default_gate import DefaultGate


def _policy() -> ToolGate:
    """The policy gate with its default policy (no organization rows); the runtime's default gate where the
    policy package does not exist yet."""
    try:
        module = importlib.import_module("meshclaw.policy.gate")
    except ModuleNotFoundError:
        return DefaultGate()
    gate: ToolGate = module.PolicyGate()
    return gate


GATES: dict[str, Callable[[], ToolGate]] = {"none": NoGate, "default": DefaultGate, "policy": _policy}


def make_gate(name: str) -> ToolGate:
    return GATES[name]()
