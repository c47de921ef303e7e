"""The sync loop against a real Synapse: which messages become which events, what is ignored (backlog,
the bot's own messages, notices), invites, reconnecting, and stopping."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from nio import AsyncClient, RoomSendResponse

from meshclaw.connectors.matrix.config import MatrixConfig
from meshclaw.connectors.matrix.events import _mentions, _names, run_sync
from meshclaw.connectors.matrix.manifest import connector
from meshclaw.tools.registry import ToolError
from tests.connectors.matrix.conftest import Sink, World, account, create_room, joined, person, run, say
from tests.connectors.matrix.proxy import FaultProxy, Rule


@asynccontextmanager
async def listening(config: MatrixConfig, sink: Sink, **options: int) -> AsyncIterator[asyncio.Task[None]]:
    """The connector's sync source running for the block; stopped (and awaited) at its end. `options`
    go to `run_sync` itself (the registered source is that function)."""
    (source,) = connector().events
    assert source.run is run_sync
    stop = asyncio.Event()
    task = asyncio.create_task(run_sync(account(config), sink, stop, **options))
    try:
        yield task
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task


async def until_heard(sink: Sink, client: AsyncClient, room_id: str) -> None:
    """Post probes until the source emits one: from then on it is past its first sync (messages from
    before it are backlog and are never emitted)."""
    for attempt in range(60):
        probe = await say(client, room_id, f"probe {attempt}")
        try:
            await sink.wait_for(lambda probe=probe: any(e.key == probe for e in sink.events), timeout=0.5)
            return
        except TimeoutError:
            continue
    raise AssertionError("the sync source never emitted a probe")


def test_messages_mentions_and_dms_become_events_once(world: World) -> None:
    async def scenario() -> None:
        sink = Sink()
        async with (
            person(world.server, world.owner) as owner,
            person(world.server, world.stranger) as stranger,
            person(world.server, world.bot) as bot,
        ):
            await bot.set_displayname("Deploy Bot")
            group = await joined(world, owner, name="ops", invite=(world.stranger.user_id,))
            await stranger.join(group)
            dm = await joined(world, owner, name="", is_direct=True)
            backlog = await say(owner, group, "old news from before the loop")
            async with listening(world.config, sink):
                await until_heard(sink, owner, group)
                plain = await say(stranger, group, "lunch at noon")
                threaded = await say(
                    owner, group, "where?", **{"m.relates_to": {"rel_type": "m.thread", "event_id": plain}}
                )
                by_name = await say(stranger, group, "deploy bot, is prod healthy?")
                by_id = await say(
                    stranger, group, "ping", **{"m.mentions": {"user_ids": [world.bot.user_id]}}
                )
                direct = await say(owner, dm, "please roll back staging")
                await say(stranger, group, "a bot's notice", msgtype="m.notice")
                own = await world.tools.call("matrix_post_message", room=group, text="I am the bot")
                last = await say(owner, group, "last one")
                await sink.wait_for(lambda: any(e.key == last for e in sink.events))
        events = {event.key: event for event in sink.events}
        assert events[plain].type == "chat.message_received"
        assert events[by_name].type == "chat.mentioned"
        assert events[by_id].type == "chat.mentioned"
        assert events[direct].type == "chat.dm_received"
        assert dict(events[direct].fields) == {
            "account": "chat",
            "room": dm,
            "sender": world.owner.user_id,
            "event_id": direct,
            "text": "please roll back staging",
        }
        assert events[by_name].fields["room"] == group
        assert events[threaded].fields["thread"] == plain
        assert "thread" not in events[plain].fields
        assert events[by_name].untrusted
        assert backlog not in events
        assert own["event_id"] not in events
        assert not [e for e in sink.events if e.fields["text"] == "a bot's notice"]
        assert len(sink.events) == len(events)  # no key twice

    run(scenario())


def test_invites_from_the_owner_are_accepted_and_others_are_not(world: World) -> None:
    async def scenario() -> None:
        sink = Sink()
        async with (
            person(world.server, world.owner) as owner,
            person(world.server, world.stranger) as stranger,
            person(world.server, world.bot) as bot,
        ):
            before = await create_room(owner, invite=[world.bot.user_id], name="invited before start")
            async with listening(world.config, sink):
                after = await create_room(owner, invite=[world.bot.user_id], name="invited while running")
                theirs = await create_room(stranger, invite=[world.bot.user_id], name="stranger's")
                async with asyncio.timeout(15):
                    while {before, after} - set((await bot.joined_rooms()).rooms):
                        await asyncio.sleep(0.2)
            assert theirs not in (await bot.joined_rooms()).rooms

    run(scenario())


def test_a_message_sent_while_syncing_fails_is_emitted_once_after_recovery(world: World) -> None:
    async def scenario() -> None:
        sink = Sink()
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner)
            async with FaultProxy(world.server.url) as proxy:
                values = world.config.model_dump()
                values.update(homeserver=proxy.url, max_rate_limit_wait_s=0)
                async with listening(MatrixConfig.model_validate(values), sink) as task:
                    await until_heard(sink, owner, room_id)
                    failing = Rule("GET", "/sync", "limit", times=2, retry_after_ms=60_000)
                    proxy.rules.append(failing)
                    missed = await say(owner, room_id, "sent while the loop is failing")
                    await sink.wait_for(lambda: any(e.key == missed for e in sink.events), timeout=30)
                    assert failing.hits == 2
                    assert not task.done()
        assert [e.key for e in sink.events].count(missed) == 1

    run(scenario())


def test_a_burst_larger_than_one_sync_is_emitted_whole_and_in_order(world: World) -> None:
    """More new messages than a sync's timeline holds (here 3) arrive while the loop is reconnecting:
    the ones the limited timeline left out are read back, none skipped, none twice."""

    async def scenario() -> None:
        sink = Sink()
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner)
            async with FaultProxy(world.server.url) as proxy:
                values = world.config.model_dump()
                values.update(homeserver=proxy.url, max_rate_limit_wait_s=0)
                async with listening(MatrixConfig.model_validate(values), sink, timeline_limit=3):
                    await until_heard(sink, owner, room_id)
                    proxy.rules.append(Rule("GET", "/sync", "limit", times=1, retry_after_ms=60_000))
                    burst = [await say(owner, room_id, f"burst {n}") for n in range(8)]
                    await sink.wait_for(lambda: burst[-1] in [e.key for e in sink.events], timeout=30)
        keys = [e.key for e in sink.events]
        assert [key for key in keys if key in burst] == burst

    run(scenario())


def test_a_password_source_logs_in_again_when_its_device_is_deleted(world: World) -> None:
    async def scenario() -> None:
        sink = Sink()
        values = world.config.model_dump()
        values.update(access_token=None, password=world.bot.password)
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner)
            async with listening(MatrixConfig.model_validate(values), sink) as task:
                await until_heard(sink, owner, room_id)
                world.server.delete_device(world.bot.user_id, "MESHCLAW")  # revokes the loop's token
                after = await say(owner, room_id, "still listening?")
                await sink.wait_for(lambda: any(e.key == after for e in sink.events), timeout=30)
                assert not task.done()

    run(scenario())


def test_a_bad_token_stops_the_source_with_a_clear_error(world: World) -> None:
    async def scenario() -> None:
        values = world.config.model_dump()
        values.update(access_token="syt_forged")
        with pytest.raises(ToolError, match="rejected the access token"):
            async with listening(MatrixConfig.model_validate(values), Sink()) as task:
                async with asyncio.timeout(10):
                    await asyncio.shield(task)

    run(scenario())


def test_a_source_whose_homeserver_is_down_keeps_trying_and_stops_when_asked(world: World) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]

    async def scenario() -> None:
        values = world.config.model_dump()
        values.update(homeserver=f"http://127.0.0.1:{closed_port}")
        async with listening(MatrixConfig.model_validate(values), Sink()) as task:
            await asyncio.sleep(1.5)
            assert not task.done()  # retrying with backoff, not crashed

    run(scenario())


def test_reactions_become_chat_reaction_added_except_answers_to_approvals(world: World) -> None:
    """A reaction on an ordinary message is an event (how the owner rates an answer), skin tone removed; a
    thumbs on one of the bot's approval prompts is an answer and no event; the bot's own reactions (its
    hints on the prompt among them) are nothing."""
    from tests.connectors.matrix.conftest import react
    from tests.connectors.matrix.test_approvals import prompt

    ask = connector().ask_approval
    assert ask is not None

    async def scenario() -> None:
        sink = Sink()
        asked = await ask(account(world.config), prompt("apr-1"))
        async with person(world.server, world.owner) as owner:
            (dm,) = (await owner.sync(timeout=0)).rooms.invite
            await owner.join(dm)
            async with listening(world.config, sink):
                await until_heard(sink, owner, dm)
                answer = await world.tools.call("matrix_notify_owner", text="The answer is 42.")
                await world.tools.call(
                    "matrix_add_reaction", room=dm, event_id=answer["event_id"], reaction="👀"
                )
                up = await react(owner, dm, answer["event_id"], "👍🏽")
                down = await react(owner, dm, answer["event_id"], "👎")
                await react(owner, dm, asked, "👍")
                await sink.wait_for(
                    lambda: len(sink.answers) == 1 and any(e.key == down for e in sink.events)
                )
        reactions = [e for e in sink.events if e.type == "chat.reaction_added"]
        fields = {
            "account": "chat",
            "room": dm,
            "event_id": answer["event_id"],
            "sender": world.owner.user_id,
        }
        assert [(e.key, e.fields) for e in reactions] == [
            (up, {**fields, "reaction": "👍"}), (down, {**fields, "reaction": "👎"})
        ]  # fmt: skip
        assert [(a.approval_id, a.approved) for a in sink.answers] == [("apr-1", True)]

    run(scenario())


@pytest.mark.parametrize("mentions", [{"user_ids": 5}, {"user_ids": None}, {"user_ids": [5, None]}, []])
def test_odd_mentions_are_no_mention(mentions: object) -> None:
    # A homeserver that does not check `m.mentions` (Synapse does, for its own users) passes these on.
    assert not _mentions({"body": "hi", "m.mentions": mentions}, "@bot:example.test", _names("@bot:x", None))


def test_messages_with_odd_content_from_anyone_in_the_room_do_not_stop_the_loop(world: World) -> None:
    """Synapse keeps most of a message's content as its sender wrote it (it refuses a non-list
    `m.mentions.user_ids` and a body that is not text, others may not): the source reads what it can and
    goes on."""

    async def scenario() -> None:
        sink = Sink()
        odd_contents = [
            {"m.mentions": {"user_ids": 5}},
            {"m.mentions": {"user_ids": "@bot"}},
            {"m.mentions": []},
            {"m.relates_to": {"rel_type": "m.thread", "event_id": {"a": 1}}},
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": 7, "key": ["x"]}},
            {"m.relates_to": "m.thread"},
            {"formatted_body": {"html": 1}},
        ]
        async with (
            person(world.server, world.owner) as owner,
            person(world.server, world.stranger) as stranger,
        ):
            group = await joined(world, owner, name="odd", invite=(world.stranger.user_id,))
            await stranger.join(group)
            async with listening(world.config, sink) as task:
                await until_heard(sink, owner, group)
                sent = [{"msgtype": "m.text", "body": "odd", **content} for content in odd_contents]
                sent += [{"msgtype": "m.text", "body": body} for body in (5, None, ["x"], {"a": 1})]
                accepted = 0
                for content in sent:
                    response = await stranger.room_send(group, "m.room.message", content)
                    # Synapse refuses some shapes itself (a non-list `m.mentions.user_ids`); the rest reach us.
                    accepted += isinstance(response, RoomSendResponse)
                assert accepted >= 5
                last = await say(stranger, group, "still listening?")
                await sink.wait_for(lambda: any(e.key == last for e in sink.events), timeout=20)
                assert not task.done()
        assert all(isinstance(value, str) for event in sink.events for value in event.fields.values())

    run(scenario())
