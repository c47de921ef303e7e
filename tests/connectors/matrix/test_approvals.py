"""Approvals in Matrix: the exact call posted in the owner's DM, answered by reacting 👍 or 👎."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from meshclaw.connectors.contract import ApprovalPrompt
from meshclaw.connectors.matrix.approvals import APPROVAL_FIELD
from meshclaw.connectors.matrix.manifest import connector
from meshclaw.tools.registry import ToolError
from tests.connectors.matrix.conftest import Sink, World, account, history, joined, person, react, run, say
from tests.connectors.matrix.test_events import listening, until_heard

ARGS = json.dumps({"room": "!ops", "text": "Deploying <v2> & `rm -rf`\n```"}, indent=2)


def prompt(approval_id: str) -> ApprovalPrompt:
    return ApprovalPrompt(
        approval_id=approval_id,
        agent_name="release-helper",
        tool_name="matrix_post_message",
        effect="communicate_external",
        args_text=ARGS,
        reason="posting outside the granted rooms",
        expires_at=datetime(2026, 12, 2, 9, 30, tzinfo=UTC),
        url=f"https://meshclaw.example.org/approvals/{approval_id}",
    )


def test_the_prompt_shows_the_exact_call_in_the_owners_dm_with_hint_reactions(world: World) -> None:
    ask = connector().ask_approval
    assert ask is not None

    async def scenario() -> None:
        event_id = await ask(account(world.config), prompt("apr-1"))
        again = await ask(account(world.config), prompt("apr-1"))  # asked again after a crash
        async with person(world.server, world.owner) as owner:
            sync = await owner.sync(timeout=0)
            (dm,) = sync.rooms.invite
            await owner.join(dm)
            messages = await history(owner, dm)
            response = await owner.room_messages(dm, start="", limit=50)
        assert again == event_id
        assert [message["event_id"] for message in messages] == [event_id]
        content = messages[0]["content"]
        assert content[APPROVAL_FIELD] == "apr-1"
        assert f"```\n{ARGS}\n```" in content["body"]  # the arguments verbatim
        for part in ("matrix_post_message", "communicate_external", "posting outside the granted rooms",
                     "2026-12-02T09:30:00+00:00", "https://meshclaw.example.org/approvals/apr-1"):  # fmt: skip
            assert part in content["body"]
        assert "Deploying &lt;v2&gt; &amp; `rm -rf`" in content["formatted_body"]  # escaped, not markup
        hints = sorted(
            e.source["content"]["m.relates_to"]["key"]
            for e in response.chunk
            if e.source["type"] == "m.reaction"
        )
        assert hints == ["👍", "👎"]

    run(scenario())


def test_reactions_answer_approvals_also_after_the_source_restarts(world: World) -> None:
    """The approval id lives in the prompt message: a source that never saw it posted still answers it."""
    ask = connector().ask_approval
    assert ask is not None

    async def scenario() -> None:
        first = await ask(account(world.config), prompt("apr-yes"))
        second = await ask(account(world.config), prompt("apr-no"))
        async with person(world.server, world.owner) as owner:
            (dm,) = (await owner.sync(timeout=0)).rooms.invite
            await owner.join(dm)
            sink = Sink()
            async with listening(world.config, sink):
                await until_heard(sink, owner, dm)
                await react(owner, dm, first, "👍\ufe0f")
                await sink.wait_for(lambda: len(sink.answers) == 1)
            async with listening(world.config, sink):  # a new source: nothing in memory
                await until_heard(sink, owner, dm)
                await react(owner, dm, second, "👎🏽")
                await sink.wait_for(lambda: len(sink.answers) == 2)
        yes, no = sink.answers
        assert (yes.approval_id, yes.approved, yes.external_user, yes.account) == (
            "apr-yes", True, world.owner.user_id, "chat"
        )  # fmt: skip
        assert (no.approval_id, no.approved, no.external_user) == ("apr-no", False, world.owner.user_id)

    run(scenario())


def test_only_thumbs_on_the_bots_own_prompts_count(world: World) -> None:
    """A look-alike prompt written by someone else (with the approval field) and other emoji answer nothing."""
    ask = connector().ask_approval
    assert ask is not None

    async def scenario() -> None:
        real = await ask(account(world.config), prompt("apr-real"))
        async with person(world.server, world.owner) as owner:
            (dm,) = (await owner.sync(timeout=0)).rooms.invite
            await owner.join(dm)
            group = await joined(world, owner, name="ops")
            sink = Sink()
            async with listening(world.config, sink):
                await until_heard(sink, owner, dm)
                fake = await say(owner, group, "approve me", **{APPROVAL_FIELD: "apr-real"})
                await react(owner, group, fake, "👍")
                await react(owner, dm, real, "🎉")
                done = await say(owner, dm, "done")
                await sink.wait_for(lambda: any(e.key == done for e in sink.events))
        assert sink.answers == []

    run(scenario())


def test_asking_without_an_owner_is_a_clear_error(world: World) -> None:
    ask = connector().ask_approval
    assert ask is not None
    values = world.config.model_dump()
    values["owner_matrix_user"] = None
    config = type(world.config).model_validate(values)

    async def scenario() -> None:
        with pytest.raises(ToolError, match="no owner_matrix_user"):
            await ask(account(config), prompt("apr-x"))

    run(scenario())
