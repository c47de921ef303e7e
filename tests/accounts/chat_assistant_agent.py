"""The chat assistant's executor for tests: `runs_executor = "tests.accounts.chat_assistant_agent:build"`.

The real runtime with the platform's connector tools (the Slack tools through the owner's account) and a
scripted model that does what the message it got asks: "summarize #general and post it to #deploys" reads
the channel and posts there; any other question is answered from the message alone.
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

ACCOUNT = "work-slack"
TEXT = re.compile(r"text=(.*), ts=")
POST = re.compile(r"summarize #(\S+) and post it to #(\S+)")


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
    source, target = wanted.groups()
    if "slack_read_channel_history" not in returns:
        args = {"account": ACCOUNT, "channel": source, "limit": 3}
        return ModelResponse(parts=[ToolCallPart("slack_read_channel_history", args, tool_call_id="r1")], usage=usage)  # fmt: skip
    if "slack_post_message" not in returns:
        summary = f"Summary of #{source}: {str(returns['slack_read_channel_history'].content)[:300]}"
        args = {"account": ACCOUNT, "channel": target, "text": summary}
        return ModelResponse(parts=[ToolCallPart("slack_post_message", args, tool_call_id="p1")], usage=usage)  # fmt: skip
    said = str(returns["slack_post_message"].content)
    done = "not posted" if "denied" in said.lower() or "not" in said.lower()[:40] else f"Posted to #{target}."
    return ModelResponse(parts=[TextPart(done)], usage=usage)


def build(context: AppContext) -> Execution:
    # No `tools`: the platform's registry, so the Slack tools act through the owner's real account.
    return agent_execution.build(context, models=function_models(_respond))
