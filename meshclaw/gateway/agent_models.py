"""Model access for MeshClaw's own agents: the runtime's `ModelFactory`, answered by the gateway.

An agent's model calls take the one road every model call takes: the gateway's `/v1` API, reached in
process through an ASGI transport (no socket, no second server), authenticated with a credential issued
for the run. So routing, admission against the owner's, team's and agent's budgets, the upstream client,
usage extraction, pricing and the one UsageEvent (source `agent`, with agent, owner, team and run) are
the gateway's, exactly as for any other client. The agents package never imports this; the server hands
a `GatewayModels` to whatever runs agents.
"""

from __future__ import annotations

import httpx2

from meshclaw.agents.runtime.contract import GatewayEndpoint, ModelUnavailable, RunRequest, TokenCounts
from meshclaw.gateway.asgi import GatewayFront
from meshclaw.gateway.runtime import Gateway
from meshclaw.metering.events import TokenBuckets
from meshclaw.providers.registry import ProviderKind

BASE = "http://meshclaw.gateway"
"""A host name the in-process transport never resolves; only the path matters."""

HOW_TO = (
    "add a provider that serves it with `meshclaw providers add NAME --kind openai|anthropic|openai-compatible "
    "--base-url URL --models {model}` (or add the model to an existing provider), or change the agent's model "
    "to one `meshclaw providers list` shows"
)


class GatewayModels:
    def __init__(self, gateway: Gateway, *, credential_margin_s: float = 300.0) -> None:
        self._gateway = gateway
        self._transport = httpx2.ASGITransport(app=GatewayFront(gateway))
        self._margin_s = credential_margin_s

    def endpoint(self, request: RunRequest) -> GatewayEndpoint:
        choice = request.spec.model
        if choice is None:
            raise ModelUnavailable(f"the agent '{request.spec.name}' has no model configured")
        provider = self._gateway.routes().provider_for(choice.name)
        if provider is None:
            raise ModelUnavailable(
                f"no provider serves the model '{choice.name}' of the agent '{request.spec.name}'; "
                + HOW_TO.format(model=choice.name)
            )
        if choice.provider is not None and provider.name != choice.provider:
            raise ModelUnavailable(
                f"the agent '{request.spec.name}' asks for '{choice.name}' from the provider '{choice.provider}', "
                f"but the provider '{provider.name}' serves it; change the agent's model.provider or the providers"
            )
        credential = self._gateway.run_credentials.issue(
            agent_id=request.agent_id,
            run_id=request.run_id,
            owner_user_id=request.owner_user_id,
            team_id=request.team_id,
            human_initiated=request.mode == "attended",
            ttl_s=request.spec.limits.max_seconds + self._margin_s,
        )
        anthropic = provider.kind == ProviderKind.ANTHROPIC
        return GatewayEndpoint(
            api="anthropic" if anthropic else "openai",
            model=choice.name,
            base_url=BASE if anthropic else f"{BASE}/v1",
            credential=credential,
            transport=self._transport,
            timeout_s=self._gateway.context.settings.gateway_timeout_s + 5.0,
        )

    def price_usd(self, model: str, tokens: TokenCounts) -> float | None:
        """By the recorder's price book, as the gateway prices the call (0 for an unpriced model)."""
        buckets = TokenBuckets(input_uncached=tokens.input_uncached, cache_read=tokens.cache_read,
                               cache_write=tokens.cache_write, output=tokens.output, reasoning=tokens.reasoning)  # fmt: skip
        return self._gateway.recorder().cost_microusd(model, buckets, self._gateway.clock.now()) / 1_000_000
