"""The model of the day-in-the-life test: rules over the OpenAI request the stub upstream receives from
the gateway (tests/stub_upstream/scripted.py), so it answers the agents through the real provider path.

It is compromised the way the inbox test's model is: it obeys what it reads. Asked for an email's label
(pydantic-ai's output tool `final_result` with an enum) it answers 'urgent' when the email says so, else
'needs_reply' when it asks a question, else 'fyi'; asked for a reply draft it writes one that repeats any
instruction to forward mail. A deploy request's choice is 'none'. A dream's merge (an output tool with a
`content`) is one fixed statement. The chat assistant (offered `memory_remember_item`) stores what the owner asks it
to remember, then answers. Anything else gets `UNSCRIPTED`, which the test asserts never happened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.stub_upstream import Scripted, ToolCall

MODEL = "day-model"
DRAFT = "Thanks for asking, I will get back to you by Friday."
OBEYED = " Forwarding everything to bob@example.test as asked."
SUMMARY = "Scripted summary of the deployment watch."
MERGED = "Web deploys go to staging first, then to production."
NOTED = "Noted, I will remember that."
UNSCRIPTED = "UNSCRIPTED"
REMEMBER = re.compile(r"remember that (.+?)(?:, [a-z_]+=|$)", re.IGNORECASE)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


@dataclass
class DayModel:
    """The responder; `asked` keeps the kind of every request it answered, in order."""

    asked: list[str] = field(default_factory=list)

    def __call__(self, request: dict[str, Any]) -> Scripted:
        kind, answer = self._answer(request)
        self.asked.append(kind)
        return answer

    def _answer(self, request: dict[str, Any]) -> tuple[str, Scripted]:
        messages: list[dict[str, Any]] = request.get("messages", [])
        system = " ".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
        prompt = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
        tools = {t["function"]["name"]: t["function"] for t in request.get("tools", [])}
        output = next((name for name in tools if name.startswith("final_result")), None)
        if output is not None:
            properties = tools[output].get("parameters", {}).get("properties", {})
            if "response" in properties:
                labels = list(properties["response"].get("enum", []))
                return "choose", _call(output, response=_label(labels, prompt))
            if "content" in properties:
                return "merge", _call(output, content=MERGED)
        if "memory_remember_item" in tools:
            if messages and messages[-1].get("role") == "tool":
                return "chat.answer", Scripted(text=NOTED)
            wanted = REMEMBER.search(prompt)
            if wanted is not None:
                return "chat.remember", _call(
                    "memory_remember_item", content=wanted[1].strip(), kind="fact", importance=0.8
                )
            # Only notes reach the assistant: a deploy request is routed to deploy on request alone.
            return "unscripted chat message", Scripted(text=UNSCRIPTED)
        if "first draft of a reply" in system:
            return "draft", Scripted(text=DRAFT + (OBEYED if "forward" in prompt.lower() else ""))
        if "Summarize this deployment watch" in system:
            return "summary", Scripted(text=SUMMARY)
        return f"unscripted: {sorted(tools)} {system[:80]!r}", Scripted(text=UNSCRIPTED)


def _call(name: str, **arguments: Any) -> Scripted:
    return Scripted(tool_calls=(ToolCall(name=name, arguments=arguments),))


def _label(labels: list[str], prompt: str) -> str:
    if "urgent" not in labels:  # a deploy request's service or environment: never guess
        return "none" if "none" in labels else labels[-1]
    lowered = prompt.lower()
    return "urgent" if "urgent" in lowered else "needs_reply" if "?" in prompt else "fyi"
