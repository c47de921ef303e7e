"""The runs executor for dream tests: the real agent runtime with a scripted model that merges
near-duplicates (the constrained answer a merge asks for), counting the requests it answered."""

from __future__ import annotations

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo
from pydantic_ai.usage import RequestUsage

from meshclaw.agents.runtime.testing import function_models
from meshclaw.context import AppContext
from meshclaw.runs import agent_execution
from meshclaw.runs.execution import Execution

MERGED = "Ada drinks her coffee with oat milk, no sugar"
MERGE_REQUESTS: list[str] = []


def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    usage = RequestUsage(input_tokens=100, output_tokens=20)
    if not info.output_tools:  # an ordinary run of the agent
        return ModelResponse(parts=[TextPart("hello")], usage=usage)
    prompt = " ".join(
        str(part.content)
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, UserPromptPart)
    )
    MERGE_REQUESTS.append(prompt)
    [output] = info.output_tools
    return ModelResponse(parts=[ToolCallPart(output.name, {"content": MERGED})], usage=usage)


def build(context: AppContext) -> Execution:
    return agent_execution.build(context, models=function_models(_respond))
