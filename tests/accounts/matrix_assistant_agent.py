"""The chat assistant's executor for the Matrix tests: `runs_executor =
"tests.accounts.matrix_assistant_agent:build"`.

The real runtime with the platform's connector tools (the Matrix tools through the owner's account) and a
scripted model that does what the message it got asks: "post <text> to <room id>" posts it there (a post in
a run a chat message started waits for the owner); "what is A times B" is answered from the message alone.
"""

from __future__ import annotations

import re

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo

from meshclaw.agents.runtime.testing import function_models
from meshclaw.context import AppContext
from meshclaw.runs import agent_execution
from meshclaw.runs.execution import Execution
from tests.accounts.assistant_turn import USAGE, answer_alone, turn_of

ACCOUNT = "work-matrix"
TEXT = re.compile(r"text=(.*?)(?:, thread=.*)?$", re.DOTALL)
POST = re.compile(r"post (.+) to (!\S+)")


def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    turn = turn_of(messages, TEXT)
    returns = turn.returns
    wanted = POST.search(turn.question)
    if wanted is None:
        return answer_alone(turn.question)
    text, room = wanted.groups()
    if "matrix_post_message" not in returns:
        args = {"account": ACCOUNT, "room": room, "text": text}
        return ModelResponse(
            parts=[ToolCallPart("matrix_post_message", args, tool_call_id="p1")], usage=USAGE
        )
    said = str(returns["matrix_post_message"].content)
    done = "Not posted." if "denied" in said.lower() else "Posted."
    return ModelResponse(parts=[TextPart(done)], usage=USAGE)


def build(context: AppContext) -> Execution:
    # No `tools`: the platform's registry, so the Matrix tools act through the owner's real account.
    return agent_execution.build(context, models=function_models(_respond))
