"""Approvals in Matrix: the exact pending call posted in the owner's DM, answered with a 👍 or 👎 reaction.

The prompt message carries its approval id in a custom content field (`org.meshclaw.approval_id`), so the
sync loop learns which approval a reaction answers from the reacted-to message itself: nothing is kept in
memory, and an answer given after a restart (of MeshClaw or of the homeserver) still finds its approval.
Only a reaction on a message the bot itself sent counts; anyone can write the field into their own message.
The bot reacts 👍 and 👎 on its prompt as hints, so answering is one tap in most clients.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from meshclaw.connectors.contract import Account, ApprovalAnswer, ApprovalPrompt
from meshclaw.connectors.matrix.client import connect
from meshclaw.connectors.matrix.config import MatrixConfig
from meshclaw.tools.registry import ToolError

APPROVAL_FIELD = "org.meshclaw.approval_id"
APPROVE = "👍"
DENY = "👎"
_MODIFIERS = {"\ufe0f", *(chr(code) for code in range(0x1F3FB, 0x1F400))}
"""The variation selector and skin tones clients may add to a thumbs-up."""


def prompt_content(prompt: ApprovalPrompt) -> dict[str, Any]:
    """The message: the tool, its full arguments verbatim, the reason, the expiry and the link."""
    expires = prompt.expires_at.isoformat(timespec="seconds")
    plain = (
        f"Approval needed: {prompt.agent_name} wants to call {prompt.tool_name} ({prompt.effect}).\n"
        f"Arguments:\n```\n{prompt.args_text}\n```\n"
        f"Reason: {prompt.reason}\n"
        f"Expires: {expires}\n"
        f"React {APPROVE} to approve or {DENY} to deny, or decide at {prompt.url}"
    )
    e = html.escape
    rich = (
        f"<p><strong>Approval needed</strong>: {e(prompt.agent_name)} wants to call "
        f"<code>{e(prompt.tool_name)}</code> ({e(prompt.effect)}).</p>"
        f'<p>Arguments:</p><pre><code class="language-json">{e(prompt.args_text)}</code></pre>'
        f"<p>Reason: {e(prompt.reason)}<br>Expires: {e(expires)}</p>"
        f"<p>React {APPROVE} to approve or {DENY} to deny, or "
        f'<a href="{e(prompt.url, quote=True)}">decide in MeshClaw</a>.</p>'
    )
    return {
        "msgtype": "m.text",
        "body": plain,
        "format": "org.matrix.custom.html",
        "formatted_body": rich,
        APPROVAL_FIELD: prompt.approval_id,
    }


async def ask_approval(account: Account[Any], prompt: ApprovalPrompt) -> str:
    """Post the prompt in the owner's DM (opened if needed) and react 👍/👎 on it; returns its event id.

    Transaction ids derive from the approval id, so asking again for the same approval (after a crash)
    returns the first message instead of posting a second one.
    """
    config: MatrixConfig = account.config
    if config.owner_matrix_user is None:
        raise ToolError(
            f"Matrix account '{account.name}' has no owner_matrix_user, so there is no DM to ask in; "
            "set it to the owner's Matrix id"
        )
    async with connect(config) as client:
        room_id, _ = await client.open_dm(config.owner_matrix_user)
        txn = f"meshclaw-approval-{prompt.approval_id}"
        event_id = await client.send(room_id, "m.room.message", prompt_content(prompt), txn_id=txn)
        for key, suffix in ((APPROVE, "yes"), (DENY, "no")):
            await client.send(room_id, "m.reaction", _reaction(event_id, key), txn_id=f"{txn}-{suffix}")
        return event_id


def _reaction(event_id: str, key: str) -> dict[str, Any]:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}


def annotation(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """For a reaction event: the reacted-to event id and the key without skin tones or variation
    selectors (`👍`); None for anything else."""
    if event.get("type") != "m.reaction":
        return None
    content = event.get("content", {})
    relation = content.get("m.relates_to", {}) if isinstance(content, Mapping) else {}
    if not isinstance(relation, Mapping) or relation.get("rel_type") != "m.annotation":
        return None
    key = "".join(char for char in str(relation.get("key", "")) if char not in _MODIFIERS)
    target = relation.get("event_id")
    if not isinstance(target, str) or not target or not key:
        return None
    return target, key


def reaction_target(event: Mapping[str, Any]) -> tuple[str, bool] | None:
    """For a 👍/👎 reaction event: the reacted-to event id and whether it approves; None otherwise."""
    found = annotation(event)
    if found is None or found[1] not in (APPROVE, DENY):
        return None
    return found[0], found[1] == APPROVE


def approval_answer(
    *, account: str, bot_user_id: str, reaction: Mapping[str, Any], prompt: Mapping[str, Any] | None
) -> ApprovalAnswer | None:
    """The answer a reaction gives, when it is a 👍/👎 by someone else on one of the bot's prompts."""
    found = reaction_target(reaction)
    sender = reaction.get("sender")
    if found is None or prompt is None or not isinstance(sender, str) or sender == bot_user_id:
        return None
    if prompt.get("sender") != bot_user_id:
        return None
    approval_id = prompt.get("content", {}).get(APPROVAL_FIELD)
    if not isinstance(approval_id, str) or not approval_id:
        return None
    return ApprovalAnswer(approval_id=approval_id, approved=found[1], account=account, external_user=sender)
