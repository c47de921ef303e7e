"""The toolsets of one segment: the registry tools the spec grants plus the run's own tools (memory), and
one MCP toolset per server in the spec, each behind the gate (`gated`).

Only granted registry tools are shown to the model (a tool it cannot see it cannot be talked into
calling); the gate still checks every call. MCP tools are named `<server>_<tool>`; their effect class is
the admin's classification (`RunRequest.mcp_effects`) or UNCLASSIFIED, the most dangerous class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic_ai import Tool
from pydantic_ai.toolsets import AbstractToolset, FunctionToolset

from meshclaw.agents.runtime.contract import RunRequest, RunToolSource, ToolOrigin
from meshclaw.agents.runtime.gated import SegmentState, ToolMeta, gated
from meshclaw.agents.spec import McpServer
from meshclaw.tools.effects import UNCLASSIFIED, EffectClass
from meshclaw.tools.registry import ToolFunction, ToolRegistry, ToolSpec, grant_matches

if TYPE_CHECKING:
    from pydantic_ai.mcp import MCPToolset


STARTUP_S = 60.0
"""How long an MCP server may take to start and answer the handshake (each call has its own timeout)."""


def _tool(spec: ToolSpec) -> Tool[None]:
    function: ToolFunction = spec.function

    async def call(args: Any) -> Any:
        return await function(args)

    # pydantic-ai builds the schema from the annotation: one pydantic model parameter is flattened into
    # the tool's schema, and it validates the model's arguments against it (a retry on failure).
    call.__annotations__ = {"args": spec.args, "return": Any}
    return Tool(call, name=spec.name, description=spec.description, takes_ctx=False)


def registry_tools(
    request: RunRequest, registry: ToolRegistry, sources: Sequence[RunToolSource]
) -> tuple[list[ToolSpec], dict[str, ToolMeta]]:
    """The granted registry tools and the run's own tools, with what the gate needs to know of each."""
    patterns = [grant.tool for grant in request.spec.tools]
    chosen = [spec for spec in registry if any(grant_matches(p, spec.name) for p in patterns)]
    metas = {spec.name: _meta(spec) for spec in chosen}
    for source in sources:
        for spec in source.tools_for(request):
            if spec.name in metas:
                raise ValueError(f"two tools are named '{spec.name}'")
            chosen.append(spec)
            metas[spec.name] = _meta(spec)
    return chosen, metas


_ORIGINS: dict[str, ToolOrigin] = {"builtin": "builtin", "memory": "memory", "skill": "skill"}
"""Where a registered tool came from, as the gate sees it; anything else a connector supplied."""


def _meta(spec: ToolSpec) -> ToolMeta:
    return ToolMeta(effect=spec.effect, origin=_ORIGINS.get(spec.origin, "connector"), scopes=spec.scopes,
                    untrusted_result=spec.untrusted_result, view=spec.view)  # fmt: skip


def function_toolset(
    specs: Sequence[ToolSpec], metas: dict[str, ToolMeta], state: SegmentState
) -> AbstractToolset[None]:
    def meta(name: str) -> ToolMeta:
        return metas[name]

    return gated(FunctionToolset([_tool(spec) for spec in specs], id="meshclaw-tools"), state, meta)


def mcp_toolset(server: McpServer, request: RunRequest) -> MCPToolset[None]:
    """The raw MCP toolset (not entered, not gated, not prefixed)."""
    # Imported here: the MCP client stack takes seconds to import, and most agents have no MCP server.
    from fastmcp.client.transports import StdioTransport
    from pydantic_ai.mcp import MCPToolset

    client: Any
    if server.command is not None:
        env = {**server.env, **request.mcp_env.get(server.name, {})}
        client = StdioTransport(command=server.command[0], args=list(server.command[1:]), env=env or None)
    else:
        client = server.url
    return MCPToolset(
        client,
        id=f"mcp-{server.name}",
        # An MCP tool's error result goes back to the model; a broken connection raises (the run fails).
        tool_error_behavior="failed",
        # Starting a stdio server means starting a Python or Node process: allow more than one call.
        init_timeout=max(STARTUP_S, server.timeout_seconds),
        include_instructions=False,
    )


def gated_mcp(
    server: McpServer, toolset: MCPToolset[None], request: RunRequest, state: SegmentState
) -> AbstractToolset[None]:
    label = f"MCP server '{server.name}'"

    def meta(name: str) -> ToolMeta:
        effect = request.mcp_effects.get(name, UNCLASSIFIED)
        # What an MCP tool returns is untrusted unless an admin classified it as something else: nobody has
        # said where an unclassified tool's answer comes from.
        untrusted = name not in request.mcp_effects or effect is EffectClass.READ_UNTRUSTED
        return ToolMeta(effect=effect, origin="mcp", timeout_s=server.timeout_seconds, label=label,
                        untrusted_result=untrusted)  # fmt: skip

    return gated(toolset.prefixed(server.name), state, meta)
