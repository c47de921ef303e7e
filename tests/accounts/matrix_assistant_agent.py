"""The chat assistant's executor for the Matrix tests: `runs_executor =
"tests.accounts.matrix_assistant_agent:build"`.

The real runtime with the platform's connector tools (the Matrix tools through the owner's account) and a
scripted model that does what the message it got asks: "post <text> to <room id>" posts it there (a post in
a run a chat message started waits for the owner); "what is A times B" is answered from the message alone.
"""

from __future__ import annotations

import re

from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo
from pydantic_ai.usage import RequestUsage

from meshclaw.agents.runtime.testing import function_models
from meshclaw.context import AppContext
from meshclaw.runs import agent_execution
from meshclaw.runs.execution import Execution

ACCOUNT = "work-matrix"
TEXT = re.compile(r"text=(.*?)(?:, thread=.*)?$", re.DOTALL)
POST = re.compile(r"post (.+) to (!\S+)")


def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    parts = [part for message in messages for part in message.parts]
    usage = RequestUsage(input_tokens=20, output_tokens=8)
    prompt = next(str(part.content) for part in parts if isinstance(part, UserPromptPart))
    found = TEXT.search(prompt)
    question = found.group(1) if found else prompt
    returns = {part.tool_name: part for part in parts if isinstance(part, ToolReturnPart)}
    wanted = POST.search(question)
    if wanted is None:
        numbers = [int(n) for n in re.findall(r"\b\d+\b", question)][:2]
        answer = f"The answer is {numbers[0] * numbers[1]}." if len(numbers) == 2 else "I do not know."
        return ModelResponse(parts=[TextPart(answer)], usage=usage)
    text, room = wanted.groups()
    if "matrix_post_message" not in returns:
        args = {"account": ACCOUNT, "room": room, "text": text}
        return ModelResponse(
            parts=[ToolCallPart("matrix_post_message", args, tool_call_id="p1")], usage=usage
        )
    said = str(returns["matrix_post_message"].content)
    done = "Not posted." if "denied" in said.lower() else "Posted."
    return ModelResponse(parts=[TextPart(done)], usage=usage)


def build(context: AppContext) -> Execution:
    # No `tools`: the platform's registry, so the Matrix tools act through the owner's real account.
    return agent_execution.build(context, models=function_models(_respond))
