"""matrix_notify_owner against a real Synapse: the owner's DM with the bot is the only room it can write to
(it has no destination argument), an answer can reply to a message there, a repeated call posts once, and
an account without an owner is an error the model can read."""

from __future__ import annotations

import pytest

from meshclaw.connectors.catalog import load
from meshclaw.connectors.contract import StaticAccounts
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolError
from tests.connectors.matrix.conftest import Tools, World, account, bot_config, history, person, run, say


def test_it_has_no_argument_that_could_name_someone_else() -> None:
    (tool,) = [t for t in load("matrix").tools(StaticAccounts()) if t.name == "matrix_notify_owner"]
    assert set(tool.args.model_json_schema()["properties"]) == {"account", "text", "thread"}
    assert tool.effect is EffectClass.WRITE_INTERNAL
    with pytest.raises(ValueError, match="extra"):
        tool.args.model_validate({"account": "chat", "text": "hi", "room": "!elsewhere:example.org"})


def test_it_writes_to_the_owners_dm_as_a_reply_once(world: World) -> None:
    async def scenario() -> None:
        first = await world.tools.call("matrix_notify_owner", key="run-1:reply", text="Digest ready.")
        room_id = first["room"]
        async with person(world.server, world.owner) as owner:
            await owner.join(room_id)  # the bot opened the DM and invited its owner
            question = await say(owner, room_id, "what is on today?")
            answer = await world.tools.call("matrix_notify_owner", key="run-2:reply", text="Two meetings.",
                                            thread=question)  # fmt: skip
            again = await world.tools.call("matrix_notify_owner", key="run-2:reply", text="Two meetings.",
                                           thread=question)  # fmt: skip
            events = await history(owner, room_id)
        assert answer == again and answer["room"] == room_id  # the same DM, the same event
        bodies = [(e["sender"], e["content"]["body"]) for e in events]
        assert bodies == [(world.bot.user_id, "Digest ready."), (world.owner.user_id, "what is on today?"),
                          (world.bot.user_id, "Two meetings.")]  # fmt: skip
        relation = events[-1]["content"]["m.relates_to"]
        assert relation == {"m.in_reply_to": {"event_id": question}}
        async with person(world.server, world.stranger) as stranger:
            synced = await stranger.sync(timeout=0)
        assert room_id not in synced.rooms.invite and room_id not in synced.rooms.join

    run(scenario())


def test_an_account_without_an_owner_says_so(world: World) -> None:
    tools = Tools(account(bot_config(world.server, world.bot, None)))
    with pytest.raises(ToolError, match="no owner_matrix_user"):
        run(tools.call("matrix_notify_owner", text="hello"))
