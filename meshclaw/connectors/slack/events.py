"""What Slack's payloads mean to MeshClaw, whichever way they arrive (Events API over HTTP, Socket Mode).

An `event_callback` becomes at most one `Event`:

- `app_mention` -> `chat.mentioned`
- `message` in a DM (`channel_type` `im`) -> `chat.dm_received`
- any other plain `message` -> `chat.message_received`

with the fields `account`, `channel`, `user`, `ts`, `text` (cut to `TEXT_LIMIT`; `thread_ts` in a thread)
and Slack's `event_id` as the key, so a delivery Slack retries (or replays after a reconnect) starts runs
once. Messages from bots (MeshClaw's own posts included) and edits, deletions and joins (any `subtype`)
start nothing: an agent answering its own message would loop.

- `reaction_added` on a message -> `chat.reaction_added`, with `channel` and `ts` of the message reacted
  to, `user` who reacted and `reaction` (the emoji's name, `+1`): how a person rates an answer.

A `block_actions` payload from an approval prompt's buttons becomes an `ApprovalAnswer`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshclaw.connectors.contract import ApprovalAnswer, Event

APPROVE_ACTION = "meshclaw_approve"
DENY_ACTION = "meshclaw_deny"

MENTIONED = "chat.mentioned"
DM_RECEIVED = "chat.dm_received"
MESSAGE_RECEIVED = "chat.message_received"
REACTION_ADDED = "chat.reaction_added"
EMITS = (MENTIONED, DM_RECEIVED, MESSAGE_RECEIVED, REACTION_ADDED)

TEXT_LIMIT = 4000
"""A message's text in an event's fields is cut here (as Matrix's): enough for a question or a request."""


def event_from_callback(account: str, payload: Mapping[str, Any]) -> Event | None:
    """The event an Events API `event_callback` payload means, or None when it should start nothing."""
    if payload.get("type") != "event_callback":
        return None
    event = payload.get("event")
    event_id = payload.get("event_id")
    if not isinstance(event, Mapping) or not isinstance(event_id, str) or not event_id:
        return None
    if event.get("bot_id") or event.get("subtype"):
        return None
    kind = event.get("type")
    if kind == "reaction_added":
        return _reaction(account, event, event_id)
    if kind == "app_mention":
        type_ = MENTIONED
    elif kind == "message":
        type_ = DM_RECEIVED if event.get("channel_type") == "im" else MESSAGE_RECEIVED
    else:
        return None
    fields = {
        "account": account,
        "channel": str(event.get("channel", "")),
        "user": str(event.get("user", "")),
        "ts": str(event.get("ts", "")),
        "text": str(event.get("text", ""))[:TEXT_LIMIT],
    }
    thread_ts = event.get("thread_ts")
    if isinstance(thread_ts, str) and thread_ts != fields["ts"]:
        fields["thread_ts"] = thread_ts
    return Event(type=type_, account=account, fields=fields, key=event_id, untrusted=True)


def _reaction(account: str, event: Mapping[str, Any], event_id: str) -> Event | None:
    item = event.get("item")
    if not isinstance(item, Mapping) or item.get("type") != "message":
        return None  # a reaction to a file or nothing we could name
    channel, ts, reaction = item.get("channel"), item.get("ts"), event.get("reaction")
    if not (
        isinstance(channel, str) and channel and isinstance(ts, str) and ts and isinstance(reaction, str)
    ):
        return None
    fields = {"account": account, "channel": channel, "ts": ts, "user": str(event.get("user", "")),
              "reaction": reaction}  # fmt: skip
    return Event(type=REACTION_ADDED, account=account, fields=fields, key=event_id, untrusted=True)


def answers_from_actions(account: str, payload: Mapping[str, Any]) -> list[ApprovalAnswer]:
    """The approval answers in an interactivity payload: a click on an approval prompt's button."""
    if payload.get("type") != "block_actions":
        return []
    user = payload.get("user")
    user_id = user.get("id") if isinstance(user, Mapping) else None
    if not isinstance(user_id, str) or not user_id:
        return []
    actions = payload.get("actions")
    if not isinstance(actions, list):
        return []
    answers = []
    for action in actions:
        if not isinstance(action, Mapping):
            continue
        action_id = action.get("action_id")
        approval_id = action.get("value")
        if (
            action_id not in (APPROVE_ACTION, DENY_ACTION)
            or not isinstance(approval_id, str)
            or not approval_id
        ):
            continue
        answers.append(
            ApprovalAnswer(
                approval_id=approval_id,
                approved=action_id == APPROVE_ACTION,
                account=account,
                external_user=user_id,
            )
        )
    return answers
