"""The default execution: the agent runtime (`meshclaw.agents.runtime`) with the built-in and connector
tools and the policy gate; an agent made from a playbook template runs that playbook instead of the model
loop (`meshclaw.agents.playbooks`).

Model access: an agent's model calls must go through the gateway (one metering path). The server wires a
model factory for that; without one, a run that needs a model fails with a message saying so, and
deterministic agents (no model) still run.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from meshclaw.agents.runtime.contract import (
    ModelEndpoint,
    ModelFactory,
    ModelUnavailable,
    RunRequest,
    RunResult,
    StepSink,
    TokenCounts,
)
from meshclaw.context import AppContext
from meshclaw.errors import MeshclawError
from meshclaw.runs import mcp_env
from meshclaw.runs.execution import Execution
from meshclaw.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from meshclaw.agents.playbooks.contract import Playbook


class NoModels:
    """The model factory of a process that has not wired the gateway for agents."""

    def endpoint(self, request: RunRequest) -> ModelEndpoint:
        raise ModelUnavailable(
            "this server has no model access wired for agent runs yet; configure a provider "
            "(meshclaw providers add) and restart"
        )

    def price_usd(self, model: str, tokens: TokenCounts) -> float | None:
        return None


def build(
    context: AppContext,
    *,
    models: ModelFactory | None = None,
    tools: ToolRegistry | None = None,
    playbooks: Mapping[str, Playbook] | None = None,
) -> Execution:
    from meshclaw.agents.memory.tools import MemoryToolSource
    from meshclaw.agents.runtime.taint import tainted
    from meshclaw.agents.skills.library import SkillLibrary
    from meshclaw.agents.skills.tools import SkillToolSource
    from meshclaw.policy.gate import DatabasePolicy, PolicyGate

    gate = PolicyGate(DatabasePolicy(db=context.db))
    catalog: Mapping[str, Playbook] | None = playbooks
    model_factory = models or NoModels()
    # Tools bound to the run's agent: its memory (when the spec turns it on) and the skills it lists.
    run_tools = (
        MemoryToolSource(context.db, context.clock, tainted=tainted),
        SkillToolSource(SkillLibrary.in_data_dir(context.settings.data_dir)),
    )

    async def known_playbooks() -> Mapping[str, Playbook]:
        # The catalog is loaded at the first run, like the loop below: its playbooks import pydantic-ai
        # and the provider SDKs, ~3 of the ~9.5 s `meshclaw up` took to answer (bench/RESULTS.md).
        nonlocal catalog
        if catalog is None:
            module = await asyncio.to_thread(importlib.import_module, "meshclaw.agents.playbooks.catalog")
            catalog = module.builtin_playbooks()
        return catalog

    async def run(
        request: RunRequest, *, sink: StepSink, tools: ToolRegistry, should_stop: Callable[[], bool]
    ) -> RunResult:
        # Imported at the first run, off the event loop: the agent loop pulls in pydantic-ai and the
        # provider SDKs (seconds on a busy machine), which a server that runs no agent should not pay.
        if mcp_env.references(request):
            try:
                request = await asyncio.to_thread(mcp_env.resolve, context, request)
            except MeshclawError as exc:  # a missing secret, a vault key that does not fit: say which
                return RunResult(status="failed", error=exc.message)
        playbook = (await known_playbooks()).get(request.spec.template or "")
        if playbook is not None:
            # An agent made from a playbook template runs its code; the model only makes choices there.
            runner = await asyncio.to_thread(importlib.import_module, "meshclaw.agents.playbooks.runner")
            run_playbook: Callable[..., Awaitable[RunResult]] = runner.execute_playbook
            return await run_playbook(playbook, request, sink=sink, gate=gate, tools=tools,
                                      model_factory=model_factory, clock=context.clock, should_stop=should_stop)  # fmt: skip
        loop = await asyncio.to_thread(importlib.import_module, "meshclaw.agents.runtime.loop")
        execute: Callable[..., Awaitable[RunResult]] = loop.execute
        return await execute(
            request,
            sink=sink,
            gate=gate,
            tools=tools,
            model_factory=model_factory,
            run_tools=run_tools,
            should_stop=should_stop,
        )

    if tools is None:
        from meshclaw.accounts.resolver import DatabaseAccounts
        from meshclaw.accounts.tools import platform_registry

        tools = platform_registry(DatabaseAccounts(db=context.db, data_dir=context.settings.data_dir))
    return Execution(execute=run, tools=tools)
