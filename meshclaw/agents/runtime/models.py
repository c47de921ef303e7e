"""A pydantic-ai model for a run, built from the endpoint the model factory gave.

Model calls go to MeshClaw's gateway API (usually in process, through the transport the server hands in),
never straight to a provider: the gateway authenticates the run's credential, applies the owner's and
the agent's budgets, forwards, and writes the one UsageEvent. The SDK clients do not retry: a refusal
(a budget, a rate limit) must end the step, not be hammered, and the gateway already retries a dropped
keep-alive connection once.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

import httpx2
from openai import AsyncOpenAI
from pydantic_ai.models import Model
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from meshclaw.agents.runtime.contract import GatewayEndpoint, ModelEndpoint, ScriptedEndpoint


async def open_model(endpoint: ModelEndpoint, stack: AsyncExitStack) -> Model:
    """The model for one segment; its HTTP client is closed with `stack`."""
    if isinstance(endpoint, ScriptedEndpoint):
        if not isinstance(endpoint.model, Model):
            raise TypeError("a ScriptedEndpoint holds a pydantic-ai Model (see runtime.testing)")
        return endpoint.model
    return _gateway_model(endpoint, stack)


def _gateway_model(endpoint: GatewayEndpoint, stack: AsyncExitStack) -> Model:
    timeout = httpx2.Timeout(endpoint.timeout_s, connect=10.0)
    if endpoint.transport is not None:
        http = httpx2.AsyncClient(transport=endpoint.transport, timeout=timeout)
    else:
        http = httpx2.AsyncClient(timeout=timeout)
    stack.push_async_callback(http.aclose)
    if endpoint.api == "anthropic":
        # Imported here: the Anthropic SDK takes seconds to import and most deployments use one API.
        from anthropic import AsyncAnthropic
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        anthropic = AsyncAnthropic(
            api_key=endpoint.credential, base_url=endpoint.base_url, http_client=http, max_retries=0
        )
        return AnthropicModel(endpoint.model, provider=AnthropicProvider(anthropic_client=anthropic))
    openai = AsyncOpenAI(
        api_key=endpoint.credential, base_url=endpoint.base_url, http_client=http, max_retries=0
    )
    return OpenAIChatModel(endpoint.model, provider=OpenAIProvider(openai_client=openai))
