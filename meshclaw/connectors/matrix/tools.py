"""The Matrix tools. Each asks for its account at call time and opens one short connection.

Rooms are named by id (`!abc`) or alias (`#ops:example.org`) in the `room` argument, which grants narrow
with the `channels` scope. Posting and reacting send with a transaction id derived from the call's
idempotency key, so a call repeated by a durable run after a crash posts once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from meshclaw.connectors.contract import Accounts
from meshclaw.connectors.matrix.client import Logins, MatrixClient, MatrixRefused, transaction_id
from meshclaw.connectors.matrix.client import connect as open_client
from meshclaw.connectors.matrix.config import MATRIX_USER_ID, MatrixConfig
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.idempotency import current_key
from meshclaw.tools.registry import ToolError, ToolSpec
from meshclaw.tools.result_view import ResultView

CONNECTOR = "matrix"
ROOM = "A room id (!abc...) or alias (#name:server)."


# What the homeserver writes: ids, the sender's user id, times, counts; a body, a room's name and topic
# are people's words.
MATRIX_VIEW = ResultView(
    fields=frozenset(
        {
            "room",
            "event_id",
            "sender",
            "sent_at",
            "thread",
            "reply_to",
            "members",
            "invited",
            "encrypted",
            "next",
        }
    )
)


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(description="The Matrix account to act as.")


class ListRoomsArgs(_Args):
    pass


class ReadMessagesArgs(_Args):
    room: str = Field(description=ROOM)
    limit: int = Field(default=20, ge=1, le=100, description="How many messages, newest first.")
    before: str | None = Field(
        default=None, description="The `next` token of a previous answer, to read older messages."
    )


class PostMessageArgs(_Args):
    room: str = Field(description=ROOM)
    text: str = Field(min_length=1, max_length=30_000, description="The message, plain text.")
    reply_to: str | None = Field(default=None, description="The event id of a message to reply to.")
    thread: str | None = Field(
        default=None, description="The event id of a thread's first message, to post in that thread."
    )


class AddReactionArgs(_Args):
    room: str = Field(description=ROOM)
    event_id: str = Field(description="The event id of the message to react to.")
    reaction: str = Field(min_length=1, max_length=64, description="The reaction, usually one emoji.")


class OpenDmArgs(_Args):
    to: str = Field(description="The Matrix id of the person, e.g. @ana:example.org.")


class NotifyOwnerArgs(_Args):
    text: str = Field(min_length=1, max_length=30_000, description="The message, plain text.")
    thread: str | None = Field(
        default=None,
        description="The event id of a message in the owner's DM to answer (the message is a reply to it); "
        "a new message when omitted.",
    )


def matrix_tools(accounts: Accounts) -> Sequence[ToolSpec]:
    logins = Logins()  # password accounts log in once for these tools, not per call

    async def config_of(name: str) -> MatrixConfig:
        return (await accounts.get(CONNECTOR, name, MatrixConfig)).config

    def connect(config: MatrixConfig) -> AbstractAsyncContextManager[MatrixClient]:
        return open_client(config, logins=logins)

    async def list_rooms(args: ListRoomsArgs) -> list[dict[str, Any]]:
        async with connect(await config_of(args.account)) as client:
            return [
                {
                    "room": room.room_id,
                    "name": room.name,
                    "topic": room.topic,
                    "members": len(room.joined),
                    "invited": len(room.invited),
                    "encrypted": room.encrypted,
                }
                for room in await client.rooms()
            ]

    async def read_messages(args: ReadMessagesArgs) -> dict[str, Any]:
        async with connect(await config_of(args.account)) as client:
            room_id = await client.resolve_room(args.room)
            page = await client.messages(room_id, limit=args.limit, start=args.before)
            messages = [_message(event) for event in page.events if event.get("type") == "m.room.message"]
            return {"room": room_id, "messages": messages, "next": page.end}

    async def post_message(args: PostMessageArgs) -> dict[str, str]:
        async with connect(await config_of(args.account)) as client:
            room_id = await client.resolve_room(args.room)
            if await client.is_encrypted(room_id):
                raise ToolError(
                    f"room {args.room} is end-to-end encrypted, which this connector does not support; "
                    "use an unencrypted room"
                )
            content: dict[str, Any] = {"msgtype": "m.text", "body": args.text}
            content.update(_relation(reply_to=args.reply_to, thread=args.thread))
            event_id = await client.send(
                room_id, "m.room.message", content, txn_id=transaction_id(current_key())
            )
            return {"room": room_id, "event_id": event_id}

    async def add_reaction(args: AddReactionArgs) -> dict[str, str]:
        async with connect(await config_of(args.account)) as client:
            room_id = await client.resolve_room(args.room)
            relation = {"rel_type": "m.annotation", "event_id": args.event_id, "key": args.reaction}
            try:
                event_id = await client.send(
                    room_id, "m.reaction", {"m.relates_to": relation}, txn_id=transaction_id(current_key())
                )
            except MatrixRefused as exc:
                if exc.code == "M_DUPLICATE_ANNOTATION":
                    return {"room": room_id, "event_id": args.event_id, "status": "already reacted"}
                raise
            return {"room": room_id, "event_id": event_id, "status": "reacted"}

    async def open_dm(args: OpenDmArgs) -> dict[str, Any]:
        if not MATRIX_USER_ID.match(args.to):
            raise ToolError(f"'{args.to}' is not a Matrix user id like @name:example.org")
        config = await config_of(args.account)
        if args.to == config.user_id:
            raise ToolError("cannot open a direct room with the bot itself")
        async with connect(config) as client:
            room_id, created = await client.open_dm(args.to)
            return {"room": room_id, "created": created}

    async def notify_owner(args: NotifyOwnerArgs) -> dict[str, str]:
        # No destination argument: the only room this can write to is the owner's DM with the bot, so a
        # model (or an attacker's text it read) cannot turn it into a way to message anyone else.
        config = await config_of(args.account)
        if config.owner_matrix_user is None:
            raise ToolError(
                f"the Matrix account '{args.account}' has no owner_matrix_user, so there is no owner's DM to "
                "write to; set it with `meshclaw accounts update`"
            )
        async with connect(config) as client:
            room_id, _ = await client.open_dm(config.owner_matrix_user)
            if await client.is_encrypted(room_id):
                raise ToolError(
                    "the owner's DM is end-to-end encrypted, which this connector does not support"
                )
            content: dict[str, Any] = {"msgtype": "m.text", "body": args.text}
            content.update(_relation(reply_to=args.thread, thread=None))
            event_id = await client.send(
                room_id, "m.room.message", content, txn_id=transaction_id(current_key())
            )
            return {"room": room_id, "event_id": event_id}

    return [
        ToolSpec(
            name="matrix_list_rooms",
            description="List the Matrix rooms the account has joined: id, name, topic, member count.",
            effect=EffectClass.READ_PRIVATE,
            args=ListRoomsArgs,
            function=list_rooms,
            scopes=(),
            origin=CONNECTOR,
            # Room names and topics are written by any member: reading them taints the run (the native
            # injection suite found this hole in Slack's channel topics).
            returns_untrusted=True,
            view=MATRIX_VIEW,
        ),
        ToolSpec(
            name="matrix_read_messages",
            description="Read a Matrix room's recent messages, newest first (others wrote them: untrusted).",
            effect=EffectClass.READ_UNTRUSTED,
            view=MATRIX_VIEW,
            args=ReadMessagesArgs,
            function=read_messages,
            scopes=("channels",),
            origin=CONNECTOR,
        ),
        ToolSpec(
            name="matrix_post_message",
            description="Post a plain-text message in a Matrix room, optionally as a reply or in a thread.",
            effect=EffectClass.COMMUNICATE_EXTERNAL,
            args=PostMessageArgs,
            function=post_message,
            scopes=("channels",),
            origin=CONNECTOR,
        ),
        ToolSpec(
            name="matrix_add_reaction",
            description="React to a message in a Matrix room (an emoji annotation).",
            effect=EffectClass.WRITE_INTERNAL,
            args=AddReactionArgs,
            function=add_reaction,
            scopes=("channels",),
            origin=CONNECTOR,
        ),
        ToolSpec(
            name="matrix_open_dm",
            description="Find the direct room with a Matrix user, or create it and invite them; returns the room id.",
            effect=EffectClass.COMMUNICATE_EXTERNAL,
            args=OpenDmArgs,
            function=open_dm,
            scopes=(),
            origin=CONNECTOR,
        ),
        ToolSpec(
            name="matrix_notify_owner",
            description="Tell the account's owner something in their DM with the bot (optionally as a reply "
            "to a message there). It can reach nobody else. Posted once even if the call repeats.",
            effect=EffectClass.WRITE_INTERNAL,
            args=NotifyOwnerArgs,
            function=notify_owner,
            scopes=(),
            origin=CONNECTOR,
        ),
    ]


def _relation(*, reply_to: str | None, thread: str | None) -> dict[str, Any]:
    """`m.relates_to` for a reply and/or a message in a thread. In a thread without a reply, the thread's
    root is the fallback reply (`is_falling_back`) that clients without threads show."""
    if thread is not None:
        relation = {
            "rel_type": "m.thread",
            "event_id": thread,
            "is_falling_back": reply_to is None,
            "m.in_reply_to": {"event_id": reply_to or thread},
        }
        return {"m.relates_to": relation}
    if reply_to is not None:
        return {"m.relates_to": {"m.in_reply_to": {"event_id": reply_to}}}
    return {}


def _message(event: Mapping[str, Any]) -> dict[str, Any]:
    content = event.get("content", {})
    relation = content.get("m.relates_to") or {}
    if not isinstance(relation, Mapping):
        relation = {}
    thread = relation.get("event_id") if relation.get("rel_type") == "m.thread" else None
    reply_to = (
        None if relation.get("is_falling_back") else (relation.get("m.in_reply_to") or {}).get("event_id")
    )
    sent = event.get("origin_server_ts")
    return {
        "event_id": event.get("event_id"),
        "sender": event.get("sender"),
        "sent_at": datetime.fromtimestamp(sent / 1000, UTC).isoformat() if isinstance(sent, int) else None,
        "text": content.get("body", ""),
        "type": content.get("msgtype"),
        "reply_to": reply_to,
        "thread": thread,
    }
