"""What is measured: each scenario is one request shape under one kind of load.

Closed-loop cells run wrk with the Lua script named here; open-loop (fixed-rate) cells send the same
request through openloop.py, so its body and headers below must match the Lua scripts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

ASK = [{"role": "user", "content": "Say hello in five words."}]


@dataclass(frozen=True)
class Scenario:
    api: Literal["chat", "messages"]
    stream: bool
    load: Literal["closed", "rate"]
    level: int
    """Connections for closed-loop cells (wrk -c), requests per second for fixed-rate ones."""

    @property
    def name(self) -> str:
        kind = {"chat": "chat completions", "messages": "Anthropic messages"}[self.api]
        return f"{kind}, {'streaming' if self.stream else 'non-streaming'}"

    @property
    def load_label(self) -> str:
        return f"c{self.level} (wrk)" if self.load == "closed" else f"{self.level} req/s (open loop)"

    @property
    def path(self) -> str:
        return "/v1/chat/completions" if self.api == "chat" else "/v1/messages"

    @property
    def model(self) -> str:
        """Each API on its own upstream model: MeshClaw serves /v1/messages only from an Anthropic-kind
        provider (it does not translate between APIs), so Anthropic messages go to `stub-claude`, which every
        target routes to the stub's /v1/messages, and chat to `stub-small` on its /v1/chat/completions."""
        return "stub-small" if self.api == "chat" else "stub-claude"

    @property
    def script(self) -> str:
        return f"{self.api}{'_stream' if self.stream else ''}.lua"

    def body(self) -> str:
        if self.api == "chat":
            return json.dumps({"model": self.model, "messages": ASK, "stream": self.stream})
        return json.dumps({"model": self.model, "max_tokens": 64, "stream": self.stream, "messages": ASK})

    def headers(self, key: str) -> list[str]:
        if self.api == "chat":
            return [f"Authorization: Bearer {key}"]
        return [f"x-api-key: {key}", "anthropic-version: 2023-06-01"]


def matrix(*, high: int, rates: list[int]) -> list[Scenario]:
    cells = [Scenario(api, stream, "closed", 1) for api in ("chat", "messages") for stream in (False, True)]
    cells += [Scenario("chat", stream, "closed", high) for stream in (False, True)]
    cells += [Scenario("chat", stream, "rate", rate) for rate in rates for stream in (False, True)]
    return cells
