"""The chat assistant's executor for tests: `runs_executor = "tests.accounts.chat_assistant_agent:build"`.

The real runtime with the platform's connector tools (the Slack tools through the owner's account) and a
scripted model that does what the message it got asks: "summarize #general and post it to #deploys" reads
the channel and posts there; any other question is answered from the message alone. Asked for the answer
again from the record of its calls (no tools offered: the run read the channel, `clean_answer`), it
answers from what the record says the post did.
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

ACCOUNT = "work-slack"
TEXT = re.compile(r"text=(.*), ts=")
POST = re.compile(r"summarize #(\S+) and post it to #(\S+)")
RECORDED_POST = re.compile(r"slack_post_message \{.*\} returned (.*)")


def _respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    turn = turn_of(messages, TEXT)
    returns = turn.returns
    wanted = POST.search(turn.question)
    if wanted is None:
        return answer_alone(turn.question)
    source, target = wanted.groups()
    if not info.function_tools:
        recorded = RECORDED_POST.search(turn.prompt)
        return _done(recorded.group(1) if recorded else "not run", target)
    if "slack_read_channel_history" not in returns:
        args = {"account": ACCOUNT, "channel": source, "limit": 3}
        return ModelResponse(parts=[ToolCallPart("slack_read_channel_history", args, tool_call_id="r1")], usage=USAGE)  # fmt: skip
    if "slack_post_message" not in returns:
        summary = f"Summary of #{source}: {str(returns['slack_read_channel_history'].content)[:300]}"
        args = {"account": ACCOUNT, "channel": target, "text": summary}
        return ModelResponse(parts=[ToolCallPart("slack_post_message", args, tool_call_id="p1")], usage=USAGE)  # fmt: skip
    return _done(str(returns["slack_post_message"].content), target)


def _done(said: str, target: str) -> ModelResponse:
    done = "not posted" if "denied" in said.lower() or "not" in said.lower()[:40] else f"Posted to #{target}."
    return ModelResponse(parts=[TextPart(done)], usage=USAGE)


def build(context: AppContext) -> Execution:
    # No `tools`: the platform's registry, so the Slack tools act through the owner's real account.
    return agent_execution.build(context, models=function_models(_respond))
