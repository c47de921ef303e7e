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
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.settings import ModelSettings

from meshclaw.agents.runtime import checkpoint
from meshclaw.agents.runtime.contract import GatewayEndpoint, ModelEndpoint, ScriptedEndpoint


async def open_model(endpoint: ModelEndpoint, stack: AsyncExitStack) -> Model:
    """The model for one segment; its HTTP client is closed with `stack`. In a durable run (a step runner
    is bound, see `checkpoint`) every request is a checkpointed step."""
    if isinstance(endpoint, ScriptedEndpoint):
        if not isinstance(endpoint.model, Model):
            raise TypeError("a ScriptedEndpoint holds a pydantic-ai Model (see runtime.testing)")
        model: Model = endpoint.model
    else:
        model = _gateway_model(endpoint, stack)
    runner = checkpoint.current()
    return CheckpointedModel(model, runner) if runner is not None else model


class CheckpointedModel(WrapperModel):
    """Each `request` is one step of the run's workflow. (The runtime does not stream: `Agent.iter`
    without an event handler asks `request`, so `request_stream` is left to the wrapped model.)"""

    def __init__(self, wrapped: Model, runner: checkpoint.StepRunner) -> None:
        super().__init__(wrapped)
        self._runner = runner

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        async def call() -> ModelResponse:
            return await self.wrapped.request(messages, model_settings, model_request_parameters)

        response: ModelResponse = await self._runner("model.request", call)
        return response


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
