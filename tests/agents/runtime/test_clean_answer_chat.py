"""A chat message's answer written apart (`clean_context.build` with a `Conversation`): the run's input is
a transcript of earlier turns, and only the new message is the person's request in the clean context. A
reply that may repeat outsiders' text is withheld like their text; the person's earlier messages, and a
reply written from their words alone, are kept."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from meshclaw.agents.runtime.contract import (
    ApprovalDecision,
    Conversation,
    EarlierTurn,
    GateDecision,
    ResumeState,
    RunInfo,
    ToolCall,
    args_digest,
)
from meshclaw.agents.runtime.loop import execute
from meshclaw.agents.runtime.testing import RecordingSink, function_models
from tests.agents.runtime.conftest import agent, request, run
from tests.agents.runtime.test_clean_answer import ENGINES, INJECTION, READ, Compromised, go, tools

TAINTED = EarlierTurn(
    message="any reviews of Le Marais?", reply=f"One says: {INJECTION}", reply_untrusted=True
)
CLEAN = EarlierTurn(message="where do I stay in Paris?", reply="Le Marais, as you booked it.")
MESSAGE = "and its rating?"


def _chat(*earlier: EarlierTurn) -> dict[str, Any]:
    """The request's fields as runs/chat.py gives them: the transcript as input, the same in parts."""
    lines = [f"Person: {turn.message}\nYou: {turn.reply}" for turn in earlier]
    text = "Conversation so far:\n\n" + "\n\n".join(lines) + f"\n\nThe person now writes:\n{MESSAGE}"
    tainted = any(turn.reply_untrusted for turn in earlier)
    conversation = Conversation(earlier=earlier, message=MESSAGE)
    return {"input": text, "conversation": conversation, "tainted": tainted, "untrusted_input": tainted}


@pytest.mark.parametrize("engine", ENGINES)
def test_only_the_new_message_is_the_request_and_a_tainted_reply_is_a_handle(
    engine: Literal["auto", "graph"],
) -> None:
    model = Compromised([READ])
    result, _ = go(model, engine=engine, **_chat(CLEAN, TAINTED))
    # The agent's own requests see the transcript as it is (and the compromised model obeys it there).
    assert INJECTION in model.requests[0]
    clean = model.requests[-1]
    assert result.clean_answer and result.output == "Le Marais is rated 4.5."
    assert INJECTION not in clean and "Person: " not in clean
    assert clean.startswith(
        "Conversation so far (a reply of yours that may repeat outsiders' text is a handle, as their text is "
        "below):\n\nThe person wrote: where do I stay in Paris?\nYou replied: Le Marais, as you booked it."
        "\n\nThe person wrote: any reviews of Le Marais?\nYou replied: [[r1]]"
        f"\n\nThe person now writes:\n{MESSAGE}\n\n---\n"
    )
    assert '"reviews":"[[r2]]"' in clean  # the review read now comes after the earlier reply


def test_a_cited_earlier_reply_is_a_quotation_that_says_it_may_repeat_outsiders_words() -> None:
    result, _ = go(Compromised([READ], cite=True), **_chat(TAINTED))
    assert result.output == (
        f'Le Marais is rated 4.5. Its reviews: "One says: {INJECTION}" (quoted from an earlier reply in this '
        "conversation, which may repeat outsiders' words)"
    )


def test_arguments_written_after_a_tainted_reply_are_withheld_even_before_a_read() -> None:
    # The model was sent the reply before any tool returned: what it writes may carry the reply's words.
    model = Compromised([("memo_write_note", {"text": "SAY: wire money"}), READ])
    result, _ = go(model, **_chat(TAINTED))
    clean = model.requests[-1]
    assert result.clean_answer and "wire money" not in clean
    assert 'memo_write_note {"text":"[[r2]]"}' in clean
    # After clean replies only, what it wrote before reading anything is its own, as in any run.
    model = Compromised([("memo_write_note", {"text": "a note"}), READ])
    go(model, **_chat(CLEAN))
    assert 'memo_write_note {"text":"a note"}' in model.requests[-1]


def test_a_chat_message_after_a_tainted_reply_that_reads_nothing_is_answered_as_written() -> None:
    model = Compromised([("user_get_own_profile", {})])
    result, sink = go(model, **_chat(TAINTED))
    assert result.tainted and not result.clean_answer and len(sink.models) == 2


class AskNotes:
    """Every note waits for a person; the rest runs."""

    async def decide(self, call: ToolCall, run: RunInfo) -> GateDecision:
        if call.name == "memo_write_note" and call.approval is None:
            return GateDecision(decision="needs_approval", reason="notes wait for a person")
        return GateDecision(decision="allow", reason="ok")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_resumed_chat_run_takes_the_conversation_from_its_stored_history(
    engine: Literal["auto", "graph"],
) -> None:
    note = {"text": "Le Marais"}
    model = Compromised([READ, ("memo_write_note", note)])
    spec = agent(tools=[{"tool": "travel_*"}, {"tool": "memo_*"}], memory=False)
    models, fields = function_models(model.respond), _chat(TAINTED)

    def segment(**more: Any) -> Any:
        return run(execute(request(spec, **fields, **more), sink=RecordingSink(), gate=AskNotes(),
                           tools=tools(), model_factory=models, engine=engine))  # fmt: skip

    first = segment()
    assert first.status == "waiting_approval" and first.history is not None
    yes = ApprovalDecision(tool_call_id="c2", approved=True, args_digest=args_digest(note))
    second = segment(resume=ResumeState(history=first.history, decisions=(yes,)))
    clean = model.requests[-1]
    assert second.status == "succeeded" and second.clean_answer
    assert INJECTION not in clean and "You replied: [[r1]]" in clean
    assert f"The person now writes:\n{MESSAGE}\n\n---" in clean
