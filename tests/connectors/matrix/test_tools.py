"""The Matrix tools against a real Synapse: list, read, post, reply, react, open a DM."""

from __future__ import annotations

import pytest

from meshclaw.tools.registry import ToolError
from tests.connectors.matrix.conftest import World, create_room, history, joined, person, run, say


def test_list_rooms_shows_joined_rooms_with_names_and_members(world: World) -> None:
    """Also: a second listing sees a room joined since the first (Synapse caches identical syncs)."""

    async def scenario() -> None:
        assert await world.tools.call("matrix_list_rooms") == []
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner, name="deploys", topic="deploy notes")
            rooms = await world.tools.call("matrix_list_rooms")
        assert [room["room"] for room in rooms] == [room_id]
        assert rooms[0]["name"] == "deploys"
        assert rooms[0]["topic"] == "deploy notes"
        assert rooms[0]["members"] == 2
        assert rooms[0]["encrypted"] is False

    run(scenario())


def test_read_messages_newest_first_by_id_or_alias_with_paging(world: World) -> None:
    async def scenario() -> None:
        alias_name = f"ops-{world.bot.user_id[5:13]}"
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner, alias=alias_name)
            for text in ("one", "two", "three"):
                await say(owner, room_id, text)
            first = await world.tools.call("matrix_read_messages", room=room_id, limit=2)
            older = await world.tools.call(
                "matrix_read_messages", room=room_id, limit=2, before=first["next"]
            )
            by_alias = await world.tools.call(
                "matrix_read_messages", room=f"#{alias_name}:localhost", limit=1
            )
        assert [m["text"] for m in first["messages"]] == ["three", "two"]
        assert first["messages"][0]["sender"] == world.owner.user_id
        assert [m["text"] for m in older["messages"]] == ["one"]
        assert by_alias["room"] == room_id
        assert by_alias["messages"][0]["text"] == "three"

    run(scenario())


def test_post_message_and_reply(world: World) -> None:
    async def scenario() -> None:
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner)
            question = await say(owner, room_id, "is staging up?")
            posted = await world.tools.call("matrix_post_message", room=room_id, text="Yes, staging is up.")
            reply = await world.tools.call(
                "matrix_post_message", room=room_id, text="Checked at 12:00.", reply_to=question
            )
            seen = await history(owner, room_id)
        by_id = {event["event_id"]: event for event in seen}
        assert by_id[posted["event_id"]]["content"]["body"] == "Yes, staging is up."
        assert by_id[posted["event_id"]]["sender"] == world.bot.user_id
        relation = by_id[reply["event_id"]]["content"]["m.relates_to"]
        assert relation == {"m.in_reply_to": {"event_id": question}}

    run(scenario())


def test_post_in_a_thread_and_read_it_back(world: World) -> None:
    async def scenario() -> None:
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner)
            root = await say(owner, room_id, "incident: checkout errors")
            question = await say(
                owner,
                room_id,
                "which version?",
                **{"m.relates_to": {"rel_type": "m.thread", "event_id": root}},
            )
            first = await world.tools.call("matrix_post_message", room=room_id, text="Looking.", thread=root)
            answer = await world.tools.call(
                "matrix_post_message", room=room_id, text="v2.3.1", thread=root, reply_to=question
            )
            read = await world.tools.call("matrix_read_messages", room=room_id, limit=4)
        by_id = {message["event_id"]: message for message in read["messages"]}
        assert (by_id[first["event_id"]]["thread"], by_id[first["event_id"]]["reply_to"]) == (root, None)
        assert (by_id[answer["event_id"]]["thread"], by_id[answer["event_id"]]["reply_to"]) == (
            root,
            question,
        )
        assert (by_id[root]["thread"], by_id[root]["reply_to"]) == (None, None)

    run(scenario())


def test_a_repeated_post_with_the_same_idempotency_key_posts_once(world: World) -> None:
    """The key becomes the Matrix transaction id: the server answers the repeat with the first event."""

    async def scenario() -> None:
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner)
            first = await world.tools.call(
                "matrix_post_message", key="run-7:3", room=room_id, text="Deployed v2."
            )
            again = await world.tools.call(
                "matrix_post_message", key="run-7:3", room=room_id, text="Deployed v2."
            )
            other = await world.tools.call(
                "matrix_post_message", key="run-7:4", room=room_id, text="Deployed v2."
            )
            bodies = [event["content"]["body"] for event in await history(owner, room_id)]
        assert again["event_id"] == first["event_id"]
        assert other["event_id"] != first["event_id"]
        assert bodies == ["Deployed v2.", "Deployed v2."]  # the third call had its own key

    run(scenario())


def test_add_reaction_and_the_same_reaction_twice(world: World) -> None:
    async def scenario() -> None:
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner)
            message = await say(owner, room_id, "ship it?")
            first = await world.tools.call(
                "matrix_add_reaction", room=room_id, event_id=message, reaction="🚀"
            )
            second = await world.tools.call(
                "matrix_add_reaction", room=room_id, event_id=message, reaction="🚀"
            )
            response = await owner.room_messages(room_id, start="", limit=20)
        reactions = [e.source for e in response.chunk if e.source.get("type") == "m.reaction"]
        assert first["status"] == "reacted"
        assert second["status"] == "already reacted"
        assert len(reactions) == 1
        assert reactions[0]["sender"] == world.bot.user_id
        assert reactions[0]["content"]["m.relates_to"]["key"] == "🚀"

    run(scenario())


def test_open_dm_creates_once_then_finds_it(world: World) -> None:
    async def scenario() -> None:
        created = await world.tools.call("matrix_open_dm", to=world.stranger.user_id)
        found = await world.tools.call("matrix_open_dm", to=world.stranger.user_id)
        async with person(world.server, world.stranger) as stranger:
            sync = await stranger.sync(timeout=0)
        assert created["created"] is True
        assert found == {"room": created["room"], "created": False}
        assert created["room"] in sync.rooms.invite  # the person was invited

    run(scenario())


def test_open_dm_refuses_a_malformed_id_and_the_bot_itself(world: World) -> None:
    async def scenario() -> None:
        with pytest.raises(ToolError, match="not a Matrix user id"):
            await world.tools.call("matrix_open_dm", to="ana@example.org")
        with pytest.raises(ToolError, match="bot itself"):
            await world.tools.call("matrix_open_dm", to=world.bot.user_id)

    run(scenario())


def test_posting_where_the_bot_is_not_a_member_says_so(world: World) -> None:
    async def scenario() -> None:
        async with person(world.server, world.owner) as owner:
            room_id = await create_room(owner, invite=[])
        with pytest.raises(ToolError, match="M_FORBIDDEN"):
            await world.tools.call("matrix_post_message", room=room_id, text="hello")
        with pytest.raises(ToolError, match="neither a room id"):
            await world.tools.call("matrix_post_message", room="ops", text="hello")

    run(scenario())


def test_posting_into_an_encrypted_room_is_refused_not_sent_in_clear(world: World) -> None:
    async def scenario() -> None:
        encryption = {
            "type": "m.room.encryption",
            "state_key": "",
            "content": {"algorithm": "m.megolm.v1.aes-sha2"},
        }
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner, initial_state=[encryption])
            with pytest.raises(ToolError, match="end-to-end encrypted"):
                await world.tools.call("matrix_post_message", room=room_id, text="secret plan")
            assert await history(owner, room_id) == []

    run(scenario())
