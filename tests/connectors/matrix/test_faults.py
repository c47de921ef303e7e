"""Faults: bad credentials, a homeserver that is down or hangs, rate limits, and an answer lost after the
server posted: clear errors, bounded retries only where repeating is safe, and no message posted twice."""

from __future__ import annotations

import socket
import time

import pytest

from meshclaw.connectors.matrix.config import MatrixConfig
from meshclaw.tools.registry import ToolError
from tests.connectors.matrix.conftest import Tools, World, account, bot_config, history, joined, person, run
from tests.connectors.matrix.proxy import FaultProxy, Rule


def tools_with(world: World, **fields: object) -> Tools:
    values = world.config.model_dump()
    values.update(fields)
    return Tools(account(MatrixConfig.model_validate(values)))


def test_a_wrong_password_is_a_clear_error_without_the_password(world: World) -> None:
    config = bot_config(world.server, world.bot, world.owner, access_token=None, password="not-the-password")

    async def scenario() -> None:
        with pytest.raises(ToolError, match="wrong user id or password") as raised:
            await Tools(account(config)).call("matrix_list_rooms")
        assert "not-the-password" not in str(raised.value)

    run(scenario())


def test_the_right_password_logs_in_on_the_configured_device(world: World) -> None:
    config = bot_config(world.server, world.bot, world.owner, access_token=None, password=world.bot.password)

    async def scenario() -> None:
        assert await Tools(account(config)).call("matrix_list_rooms") == []
        async with person(world.server, world.bot) as bot:
            devices = await bot.devices()
        assert "MESHCLAW" in [device.id for device in devices.devices]

    run(scenario())


def test_a_password_account_logs_in_once_for_its_tools_and_again_when_the_token_dies(world: World) -> None:
    async def scenario() -> None:
        async with FaultProxy(world.server.url) as proxy:
            logins = Rule("POST", "/login", "count", times=1000)
            proxy.rules.append(logins)
            tools = tools_with(world, homeserver=proxy.url, access_token=None, password=world.bot.password)
            await tools.call("matrix_list_rooms")
            await tools.call("matrix_list_rooms")
            assert logins.hits == 1
            world.server.delete_device(world.bot.user_id, "MESHCLAW")  # its tokens die with it
            assert await tools.call("matrix_list_rooms") == []
            assert logins.hits == 2

    run(scenario())


def test_a_bad_token_is_a_clear_error_without_the_token(world: World) -> None:
    async def scenario() -> None:
        with pytest.raises(ToolError, match="rejected the access token") as raised:
            await tools_with(world, access_token="syt_forged_token").call("matrix_list_rooms")
        assert "syt_forged_token" not in str(raised.value)

    run(scenario())


def test_a_homeserver_that_is_down_is_a_clear_error(world: World) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]

    async def scenario() -> None:
        with pytest.raises(ToolError, match="cannot reach the Matrix homeserver"):
            await tools_with(world, homeserver=f"http://127.0.0.1:{closed_port}").call("matrix_list_rooms")

    run(scenario())


def test_a_hanging_homeserver_times_out(world: World) -> None:
    async def scenario() -> None:
        async with FaultProxy(world.server.url) as proxy:
            proxy.rules.append(Rule("GET", "/", "hang", times=100))
            started = time.monotonic()
            with pytest.raises(ToolError, match=r"did not answer \(listing rooms|did not answer"):
                await tools_with(world, homeserver=proxy.url, timeout_s=0.5).call("matrix_list_rooms")
            assert time.monotonic() - started < 5

    run(scenario())


def test_a_rate_limited_read_is_retried_after_retry_after(world: World) -> None:
    async def scenario() -> None:
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner)
        async with FaultProxy(world.server.url) as proxy:
            rule = Rule("GET", "/messages", "limit", times=2, retry_after_ms=300)
            proxy.rules.append(rule)
            started = time.monotonic()
            page = await tools_with(world, homeserver=proxy.url).call("matrix_read_messages", room=room_id)
            assert rule.hits == 2
            assert time.monotonic() - started >= 0.6  # it waited what the server asked, twice
            assert page["room"] == room_id

    run(scenario())


def test_rate_limit_retries_are_bounded(world: World) -> None:
    async def scenario() -> None:
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner)
        async with FaultProxy(world.server.url) as proxy:
            proxy.rules.append(Rule("GET", "/messages", "limit", times=100, retry_after_ms=400))
            tools = tools_with(world, homeserver=proxy.url, max_rate_limit_wait_s=1)
            with pytest.raises(ToolError, match=r"rate limiting this account.*try again in 0\.4 s"):
                await tools.call("matrix_read_messages", room=room_id)
            assert proxy.rules[0].hits == 3  # waited 0.4 + 0.4; a third wait would pass the 1 s budget

    run(scenario())


def test_a_post_rate_limited_by_synapse_is_posted_once_after_waiting(world: World) -> None:
    """Synapse's own M_LIMIT_EXCEEDED (one message a second for this bot): the retry sends the same
    transaction id, so even a send the server had taken cannot post twice."""

    async def scenario() -> None:
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner)
            world.server.limit_messages(world.bot.user_id, per_second=1, burst_count=1)
            first = await world.tools.call("matrix_post_message", key="run-r:1", room=room_id, text="one")
            started = time.monotonic()
            second = await world.tools.call("matrix_post_message", key="run-r:2", room=room_id, text="two")
            waited = time.monotonic() - started
            bodies = [event["content"]["body"] for event in await history(owner, room_id)]
        assert waited >= 0.3  # Synapse said M_LIMIT_EXCEEDED and the tool waited its retry_after
        assert first["event_id"] != second["event_id"]
        assert bodies == ["one", "two"]

    run(scenario())


def test_a_rate_limited_post_fails_clearly_when_the_wait_is_too_long(world: World) -> None:
    async def scenario() -> None:
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner)
            world.server.limit_messages(world.bot.user_id, per_second=1, burst_count=1)
            await world.tools.call("matrix_post_message", room=room_id, text="one")  # may wait a little
            impatient = tools_with(world, max_rate_limit_wait_s=0)
            with pytest.raises(ToolError, match="rate limiting this account"):
                await impatient.call("matrix_post_message", room=room_id, text="two")
            assert [event["content"]["body"] for event in await history(owner, room_id)] == ["one"]

    run(scenario())


def test_a_post_whose_answer_was_lost_is_not_posted_again_by_the_repeat(world: World) -> None:
    """The server posts, the answer never arrives (the call times out); the durable run repeats the call
    with the same idempotency key and gets the first event back: one message in the room."""

    async def scenario() -> None:
        async with person(world.server, world.owner) as owner:
            room_id = await joined(world, owner)
            async with FaultProxy(world.server.url) as proxy:
                proxy.rules.append(Rule("PUT", "/send/m.room.message/", "swallow"))
                flaky = tools_with(world, homeserver=proxy.url, timeout_s=1)
                with pytest.raises(ToolError, match="did not answer"):
                    await flaky.call("matrix_post_message", key="run-9:2", room=room_id, text="Rolled back.")
                assert proxy.rules[0].hits == 1
            assert [event["content"]["body"] for event in await history(owner, room_id)] == ["Rolled back."]
            repeat = await world.tools.call(
                "matrix_post_message", key="run-9:2", room=room_id, text="Rolled back."
            )
            seen = await history(owner, room_id)
        assert [event["event_id"] for event in seen] == [repeat["event_id"]]

    run(scenario())


def test_bad_arguments_are_refused_before_any_request(world: World) -> None:
    spec = world.tools.specs["matrix_read_messages"]
    with pytest.raises(ValueError, match="less than or equal to 100"):
        spec.args.model_validate({"account": "chat", "room": "!a", "limit": 1000})
    with pytest.raises(ValueError, match="Extra inputs"):
        spec.args.model_validate({"account": "chat", "room": "!a", "channel": "x"})
