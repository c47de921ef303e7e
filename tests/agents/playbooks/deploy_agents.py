"""The runs executor of the deployment playbooks' tests: the real platform registry (deploy and Slack
connector tools against the real servers) and the built-in playbooks, with a scripted model:
`MESHCLAW_RUNS_EXECUTOR=tests.agents.playbooks.deploy_agents:build`.

The model never sees a tool. Asked to pick (`Steps.choose`) it answers 'none' (it never guesses a
service); asked for free text (a summary) it writes one line, so a test can tell it from the rules' facts.
"""

from __future__ import annotations

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo
from pydantic_ai.usage import RequestUsage

from meshclaw.agents.runtime.testing import function_models
from meshclaw.context import AppContext
from meshclaw.runs import agent_execution
from meshclaw.runs.execution import Execution

SUMMARY = "Scripted summary: the deployment was watched."


def scripted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    assert info.function_tools == [], "a playbook's model must see no tools"
    usage = RequestUsage(input_tokens=60, output_tokens=8)
    if info.output_tools:  # a constrained choice
        (output,) = info.output_tools
        return ModelResponse(
            parts=[ToolCallPart(output.name, {"response": "none"}, tool_call_id="out")], usage=usage
        )
    return ModelResponse(parts=[TextPart(SUMMARY)], usage=usage)


def build(context: AppContext) -> Execution:
    return agent_execution.build(context, models=function_models(scripted))
