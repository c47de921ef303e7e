"""The tool registry: every tool an agent can be granted, by name, with its effect class and arguments.

Built-in tools, connector tools and (per run) memory tools are `ToolSpec`s registered here through the
same `register` call, the way simonw/llm registers its own models through the hooks plugins use. MCP tools
are not registered: they are discovered per run from the agent's MCP servers and carry the admin's
classification or `UNCLASSIFIED`.

A registry is built by whoever builds the app (`default_registry()` gives the built-ins); there is no
module-level registry, so tests and processes never share one by accident.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from meshclaw.tools.effects import EffectClass
from meshclaw.tools.result_view import WITHHOLD_ALL, ResultView

TOOL_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+){2,}$")
"""`<domain>_<verb>_<object>`: at least three lower-case words joined by '_'."""

ToolFunction = Callable[[Any], Awaitable[Any]]
"""Called with one validated instance of the tool's `args` model; returns something JSON-serializable."""


class ToolError(Exception):
    """A tool failed in a way the model may read and react to (a message without secrets)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolSpec:
    """One tool as the rest of MeshClaw sees it."""

    name: str
    """`<domain>_<verb>_<object>`, e.g. `email_send_message`; unique in a registry."""
    description: str
    """What the model reads to decide when to call it."""
    effect: EffectClass
    """What calling it can do to the world; the policy gate decides from this."""
    args: type[BaseModel]
    """The arguments' schema; the model's arguments are validated against it before `function` runs."""
    function: ToolFunction
    scopes: tuple[str, ...] = ()
    """Scope kinds a grant may narrow (`folders`, `recipient_domains`); empty when it needs none."""
    origin: str = "builtin"
    """Who supplies it: `builtin`, a connector's domain, `memory`."""
    returns_untrusted: bool | None = None
    """Whether what it returns can be written by outsiders, which taints the run. Defaults to its effect
    being `read_untrusted`; a tool that reaches outside and brings content back (fetching a URL is
    `communicate_external`) says True."""
    view: ResultView = WITHHOLD_ALL
    """What of its result outsiders cannot write, for answers written after the run read their text
    (`meshclaw.tools.result_view`). Matters only for a tool whose result is untrusted."""

    @property
    def untrusted_result(self) -> bool:
        if self.returns_untrusted is not None:
            return self.returns_untrusted
        return self.effect is EffectClass.READ_UNTRUSTED

    def __post_init__(self) -> None:
        if not TOOL_NAME.match(self.name):
            raise ValueError(
                f"tool name '{self.name}' must be <domain>_<verb>_<object> in lower case, e.g. email_send_message"
            )
        if not isinstance(self.effect, EffectClass):
            raise ValueError(f"tool '{self.name}' has no effect class; every tool needs one")
        if not self.description.strip():
            raise ValueError(f"tool '{self.name}' has no description")


@dataclass(kw_only=True)
class ToolRegistry:
    """Tools by name. Not thread-safe for writes: register at startup, read while serving."""

    _tools: dict[str, ToolSpec] = field(default_factory=dict)

    def register(self, tool: ToolSpec) -> None:
        if tool.name in self._tools:
            raise ValueError(f"a tool named '{tool.name}' is already registered")
        self._tools[tool.name] = tool

    def get(self, name: str) -> ToolSpec | None:
        return self._tools.get(name)

    def list(self) -> list[ToolSpec]:
        return sorted(self._tools.values(), key=lambda tool: tool.name)

    def matching(self, patterns: Iterable[str]) -> builtins.list[ToolSpec]:
        """The tools any grant pattern names: an exact name or a prefix ending in `*` (`email_*`)."""
        wanted = tuple(patterns)
        return [tool for tool in self.list() if any(grant_matches(p, tool.name) for p in wanted)]

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self._tools)


def grant_matches(pattern: str, name: str) -> bool:
    """Whether a grant's tool pattern covers a tool name. Only a trailing `*` is a wildcard: `email_*`."""
    if pattern.endswith("*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def default_registry() -> ToolRegistry:
    """A registry holding the built-in tools that need no connector."""
    from meshclaw.tools.builtin import register_builtins

    registry = ToolRegistry()
    register_builtins(registry)
    return registry
