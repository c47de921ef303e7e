"""What the chat assistants' scripted models (`chat_assistant_agent` on Slack, `matrix_assistant_agent` on
Matrix) read from a run before they act: the question the chat message asks and the tools' results so far,
and the answer to a question that needs no tool ("what is A times B")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolReturnPart, UserPromptPart
from pydantic_ai.usage import RequestUsage

USAGE = RequestUsage(input_tokens=20, output_tokens=8)


@dataclass(frozen=True)
class Turn:
    question: str
    """The message's text, when the prompt is a chat event the `text` pattern finds in; else the prompt."""
    returns: dict[str, ToolReturnPart]
    """The result of each tool called so far, by tool name."""
    prompt: str
    """The prompt as sent (for the runtime's clean answer request, the record of the calls is in it)."""


def turn_of(messages: list[ModelMessage], text: re.Pattern[str]) -> Turn:
    parts = [part for message in messages for part in message.parts]
    prompt = next(str(part.content) for part in parts if isinstance(part, UserPromptPart))
    found = text.search(prompt)
    returns = {part.tool_name: part for part in parts if isinstance(part, ToolReturnPart)}
    return Turn(question=found.group(1) if found else prompt, returns=returns, prompt=prompt)


def answer_alone(question: str) -> ModelResponse:
    """The product of the question's first two numbers, or "I do not know."."""
    numbers = [int(n) for n in re.findall(r"\b\d+\b", question)][:2]
    answer = f"The answer is {numbers[0] * numbers[1]}." if len(numbers) == 2 else "I do not know."
    return ModelResponse(parts=[TextPart(answer)], usage=USAGE)
