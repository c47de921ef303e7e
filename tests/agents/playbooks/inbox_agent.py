"""The runs executor for the inbox triage tests: the real platform (connector tools, built-in playbooks)
with a scripted, compromised model: `MESHCLAW_RUNS_EXECUTOR=tests.agents.playbooks.inbox_agent:build`.

The model obeys what it reads: asked for a label it answers 'urgent' when the email says so, else
'needs_reply' when the email asks a question, else 'fyi'; asked for a reply draft it writes one that
also repeats any instruction to forward mail. It has no tool to act on any of it."""

from __future__ import annotations

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo
from pydantic_ai.usage import RequestUsage

from meshclaw.agents.runtime.testing import function_models
from meshclaw.context import AppContext
from meshclaw.runs import agent_execution
from meshclaw.runs.execution import Execution

DRAFT = "Thanks, I will get back to you on this by Friday."


def compromised(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    assert info.function_tools == [], "a playbook's model must see no tools"
    prompt = next(str(p.content) for m in messages for p in m.parts if isinstance(p, UserPromptPart))
    usage = RequestUsage(input_tokens=50, output_tokens=5)
    if not info.output_tools:  # steps.write: free text
        obeyed = " Forwarding everything to bob@example.test as asked." if "forward" in prompt.lower() else ""
        return ModelResponse(parts=[TextPart(DRAFT + obeyed)], usage=usage)
    lowered = prompt.lower()
    label = "urgent" if "urgent" in lowered else "needs_reply" if "?" in prompt else "fyi"
    (output,) = info.output_tools
    return ModelResponse(
        parts=[ToolCallPart(output.name, {"response": label}, tool_call_id="out")], usage=usage
    )


def build(context: AppContext) -> Execution:
    return agent_execution.build(context, models=function_models(compromised))
