"""Approval prompts in the owner's DM with the bot: the exact action, and Approve / Deny buttons.

The arguments are shown verbatim in a preformatted rich-text block: its text elements are literal (Slack
parses no mrkdwn, mentions or links in them), so arguments an outsider influenced cannot render as a
link, a mention or formatting that hides what would run. The other texts are `plain_text` too; only the
link to the approval's page is mrkdwn, with `&`, `<` and `>` escaped. Both buttons carry the approval id as
their `value`; the click comes back as a `block_actions` payload (over HTTP or Socket Mode).

A prompt is posted once per approval: its actions block is named after the approval id, and the DM's
recent messages are searched for it first, so announcing the same approval again (a retry, a restart)
returns the message already there.
"""

from __future__ import annotations

from typing import Any

from meshclaw.connectors.contract import Account, ApprovalPrompt
from meshclaw.connectors.slack.client import SlackClient
from meshclaw.connectors.slack.config import SlackConfig
from meshclaw.connectors.slack.events import APPROVE_ACTION, DENY_ACTION
from meshclaw.tools.registry import ToolError

TEXT_CHUNK = 2900
"""Slack caps text objects near 3,000 characters; longer arguments are split across text elements."""
PLAIN_LIMIT = 2900
RECENT_PROMPTS = 50
"""How far back in the owner's DM a prompt already posted for the same approval is looked for."""


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters in mrkdwn (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def block_id(approval_id: str) -> str:
    return f"meshclaw_approval:{approval_id}"[:255]


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:PLAIN_LIMIT] or " ", "emoji": False}


def prompt_blocks(prompt: ApprovalPrompt) -> list[dict[str, Any]]:
    chunks = [prompt.args_text[i : i + TEXT_CHUNK] for i in range(0, len(prompt.args_text), TEXT_CHUNK)]
    expires = prompt.expires_at.strftime("%Y-%m-%d %H:%M %Z").strip()
    return [
        {"type": "header", "text": _plain(f"Approve {prompt.tool_name}?")},
        {
            "type": "section",
            "fields": [
                _plain(f"Agent: {prompt.agent_name}"),
                _plain(f"Tool: {prompt.tool_name}"),
                _plain(f"Effect: {prompt.effect}"),
                _plain(f"Expires: {expires}"),
            ],
        },
        {"type": "section", "text": _plain(f"Why it waits: {prompt.reason}")},
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_preformatted",
                    "elements": [{"type": "text", "text": chunk} for chunk in chunks or [" "]],
                }
            ],
        },
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"<{escape_mrkdwn(prompt.url)}|Open the approval in MeshClaw>"}
            ],
        },
        {
            "type": "actions",
            "block_id": block_id(prompt.approval_id),
            "elements": [
                {
                    "type": "button",
                    "action_id": APPROVE_ACTION,
                    "text": _plain("Approve"),
                    "style": "primary",
                    "value": prompt.approval_id,
                },
                {
                    "type": "button",
                    "action_id": DENY_ACTION,
                    "text": _plain("Deny"),
                    "style": "danger",
                    "value": prompt.approval_id,
                },
            ],
        },
    ]


async def ask_approval(account: Account[SlackConfig], prompt: ApprovalPrompt) -> str:
    """Posts the prompt to the owner's DM; returns `<channel>:<ts>`, the message's id in Slack."""
    owner = account.config.owner_slack_user
    if not owner:
        raise ToolError(
            f"the Slack account '{account.name}' has no owner_slack_user, so there is no DM to ask in; "
            "set it to the owner's Slack user id (U...)"
        )
    client = SlackClient(account=account)
    channel = await client.open_dm(owner)
    wanted = block_id(prompt.approval_id)
    for message in await client.history(channel, limit=RECENT_PROMPTS):
        if any(block.get("block_id") == wanted for block in message.get("blocks") or []):
            return f"{channel}:{message.get('ts')}"
    fallback = escape_mrkdwn(
        f"{prompt.agent_name} asks to run {prompt.tool_name} ({prompt.effect}): approve or deny"
    )
    data = await client.post_blocks(channel, text=fallback, blocks=prompt_blocks(prompt))
    return f"{data.get('channel', channel)}:{data.get('ts')}"
