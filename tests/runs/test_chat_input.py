"""A chat message's run starts tainted when a reply it carries was written after reading outsiders' text
(`chat.chat_input`): through the reply the transcript may repeat what they wrote. The run also gets the
turns in parts (`Conversation`, kept with its input), so an answer written apart takes none of them as the
person's request."""

from __future__ import annotations

import json

from meshclaw.agents.runtime.contract import Conversation, EarlierTurn
from meshclaw.runs.chat import CONTEXT_TURNS, Turn, chat_input, conversation_of, stored


def _turn(index: int, *, sources: tuple[str, ...] = (), started_tainted: bool = False) -> Turn:
    return Turn(run_id=f"r{index}", message=f"question {index}", reply=f"answer {index}", status="succeeded",
                error=None, untrusted_sources=sources, started_tainted=started_tainted)  # fmt: skip


def test_clean_turns_give_a_clean_input() -> None:
    given = chat_input([_turn(1), _turn(2)], "and now?")
    assert not given.untrusted
    assert given.text.endswith("Person: question 2\nYou: answer 2\n\nThe person now writes:\nand now?")


def test_a_reply_written_after_reading_outsiders_text_taints_the_next_run() -> None:
    assert chat_input([_turn(1, sources=("email_read_message",)), _turn(2)], "and now?").untrusted


def test_taint_carries_on_through_a_turn_that_began_tainted() -> None:
    """Its reply may repeat the earlier turns' outsiders' text, even once those turns are out of the window."""
    earlier = [_turn(0, sources=("web_fetch_page",))] + [_turn(i) for i in range(1, CONTEXT_TURNS)]
    earlier.append(_turn(CONTEXT_TURNS, started_tainted=True))
    given = chat_input(earlier, "and now?")
    assert "question 0" not in given.text  # the turn that read the page is out of the window
    assert given.untrusted


def test_a_tainted_turn_out_of_the_window_no_longer_counts() -> None:
    earlier = [_turn(0, sources=("web_fetch_page",))] + [_turn(i) for i in range(1, CONTEXT_TURNS + 1)]
    given = chat_input(earlier, "and now?")
    assert "question 0" not in given.text and not given.untrusted


def test_a_first_message_is_its_own_input() -> None:
    given = chat_input([], "hello")
    assert given.text == "hello" and not given.untrusted


def test_the_page_names_where_outsiders_text_came_from() -> None:
    assert _turn(1, sources=("web_fetch_page",), started_tainted=True).taint_sources == (
        "earlier replies in this conversation",
        "web_fetch_page",
    )
    assert not _turn(1).tainted and _turn(1, started_tainted=True).tainted


def test_the_input_carries_the_same_turns_in_parts_with_which_replies_may_repeat_outsiders_text() -> None:
    earlier = [_turn(1), _turn(2, sources=("web_fetch_page",)), _turn(3, started_tainted=True)]
    given = chat_input(earlier, "and now?")
    assert given.conversation == Conversation(
        earlier=(
            EarlierTurn(message="question 1", reply="answer 1", reply_untrusted=False),
            EarlierTurn(message="question 2", reply="answer 2", reply_untrusted=True),
            EarlierTurn(message="question 3", reply="answer 3", reply_untrusted=True),
        ),
        message="and now?",
    )
    # The transcript the model is sent is as before.
    assert given.text == (
        "Conversation so far:\n\nPerson: question 1\nYou: answer 1\n\nPerson: question 2\nYou: answer 2"
        "\n\nPerson: question 3\nYou: answer 3\n\nThe person now writes:\nand now?"
    )


def test_the_parts_hold_the_turns_the_transcript_holds() -> None:
    earlier = [_turn(0, sources=("web_fetch_page",))] + [_turn(i) for i in range(1, CONTEXT_TURNS + 1)]
    given = chat_input(earlier, "and now?")
    assert [turn.message for turn in given.conversation.earlier] == [
        f"question {i}" for i in range(1, CONTEXT_TURNS + 1)
    ]
    assert chat_input([], "hello").conversation == Conversation(message="hello")


def test_a_run_keeps_its_conversation_with_its_input() -> None:
    given = chat_input([_turn(1), _turn(2, sources=("email_read_message",))], "and now?")
    kept = json.loads(json.dumps(stored(given.conversation)))  # as the runs table's JSON column holds it
    assert conversation_of(kept) == given.conversation
    assert conversation_of(None) is None  # a run started otherwise, or before runs kept it
