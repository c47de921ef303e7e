"""The sync loop: messages become `chat.*` events, 👍/👎 reactions on approval prompts become answers.

The loop keeps its `since` token in memory for as long as it runs. Its first sync only fixes the
position, so the backlog (everything before the loop started, also after a MeshClaw restart) starts no
runs; a reconnect within one run continues from the last token, so nothing is emitted twice and nothing
that arrived while the homeserver was down is lost. Each message is one event of the most specific type:
`chat.dm_received` in a room of two people, else `chat.mentioned` when it names the bot (its user id, its
display name, or `m.mentions`), else `chat.message_received`; the key is the Matrix event id. The bot's
own messages, edits and `m.notice`s (what bots send each other, by convention) start nothing.

A reaction (`m.reaction`, an annotation) by someone else is a 👍/👎 answer when it is on one of the bot's
approval prompts; any other becomes `chat.reaction_added` (`room` and `event_id` of the message reacted
to, `sender`, `reaction` without skin tones or variation selectors): how the owner rates an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from typing import Any

from meshclaw.connectors.contract import Account, Event, EventSink
from meshclaw.connectors.matrix.approvals import annotation, approval_answer, reaction_target
from meshclaw.connectors.matrix.client import Invite, MatrixAuthFailed, MatrixClient, TimelineEvent, connect
from meshclaw.connectors.matrix.config import MatrixConfig
from meshclaw.tools.registry import ToolError

log = logging.getLogger(__name__)

REACTION_ADDED = "chat.reaction_added"
EMITS = ("chat.dm_received", "chat.mentioned", "chat.message_received", REACTION_ADDED)
POLL_MS = 25_000
"""How long one sync waits on the server for news; a stop request cancels it at once."""
TIMELINE_LIMIT = 50
"""New events per room per sync; more (after an outage) are read back page by page, none skipped."""
MAX_BACKOFF_S = 60.0
TEXT_LIMIT = 4000
_MESSAGE_TYPES = ("m.text", "m.emote")


async def run_sync(
    account: Account[Any],
    sink: EventSink,
    stop: asyncio.Event,
    *,
    poll_ms: int = POLL_MS,
    timeline_limit: int = TIMELINE_LIMIT,
) -> None:
    """Watch the account until `stop` is set, reconnecting with backoff when the homeserver goes away."""
    config: MatrixConfig = account.config
    since: str | None = None
    backoff = 1.0
    while not stop.is_set():
        connected = False
        try:
            async with connect(config) as client:
                connected = True
                names = _names(config.user_id, await client.display_name())
                primed = await client.prime()
                for invite in primed.invites:
                    await _answer_invite(client, config, invite)
                since = since or primed.next_batch
                while not stop.is_set():
                    sync = client.sync(since, wait_ms=poll_ms, timeline_limit=timeline_limit)
                    batch = await _until_stopped(sync, stop)
                    if batch is None:
                        return
                    for invite in batch.invites:
                        await _answer_invite(client, config, invite)
                    for event in batch.events:
                        await _handle(client, account.name, names, event, sink)
                    since = batch.next_batch
                    backoff = 1.0
        except MatrixAuthFailed as exc:
            if not (connected and config.password is not None):
                raise  # a wrong token or password does not heal by retrying; the platform reports it
            # The session's token was revoked after a password login: logging in again heals it.
            log.warning("matrix sync of account %s lost its login, logging in again: %s", account.name, exc)
        except ToolError as exc:
            log.warning(
                "matrix sync of account %s failed, retrying in %.0f s: %s", account.name, backoff, exc
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_S)


async def _until_stopped(work: Any, stop: asyncio.Event) -> Any:
    """The result of `work`, or None when `stop` is set first (the long poll is cancelled)."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stopped.cancel()
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, ToolError):
        await task
    return None


async def _answer_invite(client: MatrixClient, config: MatrixConfig, invite: Invite) -> None:
    wanted = config.join_invites == "anyone" or (
        config.join_invites == "owner"
        and invite.inviter is not None
        and invite.inviter == config.owner_matrix_user
    )
    if wanted:
        await client.join(invite.room_id)


async def _handle(
    client: MatrixClient,
    account: str,
    names: tuple[re.Pattern[str], ...],
    event: TimelineEvent,
    sink: EventSink,
) -> None:
    source = event.source
    sender = source.get("sender")
    if not isinstance(sender, str) or sender == client.user_id:
        return
    target = reaction_target(source)
    if target is not None:
        prompt = await client.event(event.room_id, target[0])
        answer = approval_answer(account=account, bot_user_id=client.user_id, reaction=source, prompt=prompt)
        if answer is not None:
            await sink.answer(answer)
            return
    reacted = annotation(source)
    if reacted is not None:
        await _emit_reaction(account, event.room_id, sender, source, reacted, sink)
        return
    kind = _message_kind(source, event.joined_count, client.user_id, names)
    event_id = source.get("event_id")
    if kind is None or not isinstance(event_id, str):
        return
    content = source.get("content", {})
    fields = {
        "account": account,
        "room": event.room_id,
        "sender": sender,
        "event_id": event_id,
        "text": str(content.get("body", ""))[:TEXT_LIMIT],
    }
    relation = content.get("m.relates_to")
    if isinstance(relation, Mapping) and relation.get("rel_type") == "m.thread":
        fields["thread"] = str(relation.get("event_id", ""))  # so a reply can go to the same thread
    await sink.emit(Event(type=kind, account=account, key=event_id, fields=fields))


async def _emit_reaction(
    account: str,
    room_id: str,
    sender: str,
    source: Mapping[str, Any],
    reacted: tuple[str, str],
    sink: EventSink,
) -> None:
    event_id = source.get("event_id")
    if not isinstance(event_id, str):
        return
    target, key = reacted
    fields = {"account": account, "room": room_id, "event_id": target, "sender": sender, "reaction": key}
    await sink.emit(Event(type=REACTION_ADDED, account=account, key=event_id, fields=fields))


def _message_kind(
    source: Mapping[str, Any], joined_count: int, bot_user_id: str, names: tuple[re.Pattern[str], ...]
) -> str | None:
    if source.get("type") != "m.room.message":
        return None
    content = source.get("content", {})
    if not isinstance(content, Mapping) or content.get("msgtype") not in _MESSAGE_TYPES:
        return None
    relation = content.get("m.relates_to")
    if isinstance(relation, Mapping) and relation.get("rel_type") == "m.replace":
        return None  # an edit of a message already seen
    if joined_count == 2:
        return "chat.dm_received"
    if _mentions(content, bot_user_id, names):
        return "chat.mentioned"
    return "chat.message_received"


def _mentions(content: Mapping[str, Any], bot_user_id: str, names: tuple[re.Pattern[str], ...]) -> bool:
    mentions = content.get("m.mentions")
    user_ids = mentions.get("user_ids") if isinstance(mentions, Mapping) else None
    if isinstance(user_ids, list) and bot_user_id in user_ids:
        return True
    texts = (str(content.get("body", "")), str(content.get("formatted_body", "")))
    return any(pattern.search(text) for pattern in names for text in texts)


def _names(user_id: str, display_name: str | None) -> tuple[re.Pattern[str], ...]:
    """How a message can name the bot: its user id anywhere, its display name as a whole word."""
    patterns = [re.compile(re.escape(user_id), re.IGNORECASE)]
    if display_name and display_name.strip():
        patterns.append(re.compile(rf"(?<!\w){re.escape(display_name.strip())}(?!\w)", re.IGNORECASE))
    return tuple(patterns)
