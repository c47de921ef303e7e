"""An agent for MCP classification tests: `MESHCLAW_RUNS_EXECUTOR=tests.policy.mcp_agent:build`. The real
runtime and policy gate; the scripted model posts once through the agent's MCP server `chat`
(`chat_post_message`), then answers."""

from __future__ import annotations

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import AgentInfo
from pydantic_ai.usage import RequestUsage

from meshclaw.agents.runtime.testing import function_models
from meshclaw.context import AppContext
from meshclaw.runs import agent_execution
from meshclaw.runs.execution import Execution
from meshclaw.tools.registry import ToolRegistry


def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    usage = RequestUsage(input_tokens=10, output_tokens=5)
    returned = [part for message in messages for part in message.parts if isinstance(part, ToolReturnPart)]
    if not returned:
        call = ToolCallPart(
            "chat_post_message", {"channel": "general", "text": "standup at 10"}, tool_call_id="p1"
        )
        return ModelResponse(parts=[call], usage=usage)
    return ModelResponse(parts=[TextPart(f"posted: {returned[-1].content}")], usage=usage)


def build(context: AppContext) -> Execution:
    return agent_execution.build(context, models=function_models(_respond), tools=ToolRegistry())
