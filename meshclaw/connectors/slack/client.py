"""The only module that speaks Slack's Web API (through the official `slack_sdk`'s async client).

Two clients per account, because a read and a post may be retried differently:

- reads retry a rate-limited call (429) after Slack's `Retry-After` when that is short (bounded by the
  account's `max_retry_after_seconds`, at most twice), and a dropped connection or a 500/503 once:
  reading twice is harmless;
- posts retry only a 429 (Slack refused the call, so nothing was posted) and never a dropped connection,
  which may have posted. A post made inside a run carries the call's idempotency key in the message's
  metadata; before posting, the recent messages of the channel (or thread) are searched for that key, so
  a call repeated after a crash finds its message instead of posting it again.

Calls other than `chat.postMessage` (JSON, for blocks and metadata) are POSTed form-encoded, one of the
two ways Slack documents for every method; slack_sdk's own methods send some of them as GET or as query
parameters, which the emulator the tests run against does not read.

Every call has a deadline; Slack's errors become `ToolError`s that say what to do, without the token.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from meshclaw.connectors.contract import Account
from meshclaw.connectors.slack.config import SlackConfig
from meshclaw.tools.registry import ToolError

KEY_EVENT_TYPE = "meshclaw_tool_call"
"""The metadata event type of messages MeshClaw posts inside a run; its payload holds the call's key."""
RATE_LIMIT_RETRIES = 2
HISTORY_FOR_REPEATS = 100
"""How many recent messages are searched for a repeated post's key: a repeat follows its crash closely."""
CHANNEL_ID = re.compile(r"^[CDG][A-Z0-9]{6,}$")
AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
    }
)


class _BoundedRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, refusing to wait longer than the account allows (Slack may ask for minutes)."""

    def __init__(self, *, max_wait_s: int) -> None:
        super().__init__(max_retry_count=RATE_LIMIT_RETRIES)
        self._max_wait_s = max_wait_s

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        return retry_after(response.headers) <= self._max_wait_s


def retry_after(headers: Mapping[str, Any]) -> int:
    """Slack's `Retry-After` in seconds (1 when missing or unreadable)."""
    for name, value in headers.items():
        if name.lower() == "retry-after":
            text = value[0] if isinstance(value, list | tuple) else value
            try:
                return max(0, int(str(text)))
            except ValueError:
                return 1
    return 1


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def message_key(key: str) -> str:
    """The `client_msg_id` derived from an idempotency key (a UUID, as Slack's clients send)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"meshclaw:{key}"))


@dataclass(kw_only=True)
class SlackClient:
    """Web API calls for one account, made as its bot."""

    account: Account[SlackConfig]
    _reader: AsyncWebClient = field(init=False)
    _writer: AsyncWebClient = field(init=False)

    def __post_init__(self) -> None:
        config = self.account.config
        token = config.bot_token.get_secret_value()
        timeout = max(1, round(config.timeout_seconds))
        rate_limit = _BoundedRateLimitRetry(max_wait_s=config.max_retry_after_seconds)
        read_retries: list[AsyncRetryHandler] = [
            rate_limit,
            AsyncConnectionErrorRetryHandler(),
            AsyncServerErrorRetryHandler(),
        ]
        write_retries: list[AsyncRetryHandler] = [rate_limit]
        self._reader = AsyncWebClient(
            token=token, base_url=config.base_url, timeout=timeout, retry_handlers=read_retries
        )
        self._writer = AsyncWebClient(
            token=token, base_url=config.base_url, timeout=timeout, retry_handlers=write_retries
        )

    @property
    def _deadline_s(self) -> float:
        """Covers every attempt of one call and the waits between them."""
        config = self.account.config
        attempts = RATE_LIMIT_RETRIES + 1
        return config.timeout_seconds * attempts + config.max_retry_after_seconds * RATE_LIMIT_RETRIES + 3

    async def _call(
        self, method: str, call: Awaitable[AsyncSlackResponse], *, tolerate: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """The call's answer; Slack errors in `tolerate` come back as the answer instead of raising."""
        try:
            async with asyncio.timeout(self._deadline_s):
                response = await call
        except SlackApiError as exc:
            refused = exc.response.data if isinstance(exc.response.data, dict) else {}
            if refused.get("error") in tolerate:
                return dict(refused)
            raise self._error(method, exc) from None
        except TimeoutError:
            raise ToolError(
                f"Slack did not answer {method} within {self.account.config.timeout_seconds:g} s "
                f"(account '{self.account.name}'); try again later"
            ) from None
        except aiohttp.ClientError as exc:
            raise ToolError(
                f"could not reach Slack at {self.account.config.base_url} for {method} "
                f"({type(exc).__name__}); check the account's base_url and the network"
            ) from None
        return dict(response.data) if isinstance(response.data, dict) else {}

    def _error(self, method: str, exc: SlackApiError) -> ToolError:
        response = exc.response
        status = getattr(response, "status_code", 200)
        data = response.data if isinstance(response.data, dict) else {}
        error = str(data.get("error", "unknown_error"))
        name = self.account.name
        if status == 429 or error == "ratelimited":
            wait = retry_after(getattr(response, "headers", {}) or {})
            return ToolError(f"Slack is rate limiting {method} for account '{name}'; try again in {wait} s")
        if status >= 500:
            return ToolError(
                f"Slack answered {method} with HTTP {status} (account '{name}'); try again later"
            )
        if error in AUTH_ERRORS:
            return ToolError(
                f"Slack refused the bot token of account '{name}' ({error}): it is wrong, revoked or "
                "expired; store a valid bot token (xoxb-...) in the account's bot_token secret"
            )
        if error == "missing_scope":
            needed = data.get("needed", "?")
            return ToolError(
                f"the Slack app of account '{name}' lacks the scope {needed} needed for {method}: add it "
                "in the app's OAuth & Permissions page and reinstall the app"
            )
        if error == "not_in_channel":
            return ToolError(f"the bot of account '{name}' is not in that channel: invite it with /invite")
        if error == "channel_not_found":
            return ToolError(
                f"Slack found no channel by that id for account '{name}' (or the bot cannot see it); "
                "list channels with slack_list_channels"
            )
        return ToolError(f"Slack answered {method} with the error '{error}' (account '{name}')")

    async def _form(
        self, client: AsyncWebClient, method: str, *, tolerate: frozenset[str] = frozenset(), **args: Any
    ) -> dict[str, Any]:
        data = {name: _form_value(value) for name, value in args.items() if value is not None}
        return await self._call(method, client.api_call(method, data=data), tolerate=tolerate)

    # --- identity and channels ------------------------------------------------------------------

    async def whoami(self) -> dict[str, Any]:
        """`auth.test`: the bot's user id, team and bot id."""
        return await self._form(self._reader, "auth.test")

    async def channels(self, *, types: str = "public_channel,private_channel") -> list[dict[str, Any]]:
        """Every conversation of these types the bot can see, across pages."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await self._form(
                self._reader,
                "conversations.list",
                types=types,
                exclude_archived=True,
                limit=200,
                cursor=cursor,
            )
            found.extend(page.get("channels", []))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return found

    async def channel_id(self, channel: str) -> str:
        """A channel id as given, or the id of the channel with that name (`#deploys` or `deploys`)."""
        if CHANNEL_ID.match(channel):
            return channel
        name = channel.removeprefix("#")
        for item in await self.channels():
            if item.get("name") == name:
                return str(item["id"])
        raise ToolError(
            f"no Slack channel named '{name}' that the bot can see (account '{self.account.name}')"
        )

    # --- messages -------------------------------------------------------------------------------

    async def history(
        self, channel_id: str, *, limit: int, oldest: str | None = None
    ) -> list[dict[str, Any]]:
        data = await self._form(
            self._reader,
            "conversations.history",
            channel=channel_id,
            limit=limit,
            oldest=oldest,
            include_all_metadata=True,
        )
        messages: list[dict[str, Any]] = data.get("messages", [])
        if oldest is not None:
            # Slack filters by `oldest` itself; a server that ignores it must not widen the answer.
            messages = [m for m in messages if float(m.get("ts", "0")) > float(oldest)]
        return messages[:limit]

    async def replies(self, channel_id: str, thread_ts: str, *, limit: int) -> list[dict[str, Any]]:
        data = await self._form(
            self._reader,
            "conversations.replies",
            channel=channel_id,
            ts=thread_ts,
            limit=limit,
            include_all_metadata=True,
        )
        messages: list[dict[str, Any]] = data.get("messages", [])
        return messages[:limit]

    async def post(
        self, channel_id: str, text: str, *, thread_ts: str | None, broadcast: bool, key: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Posts once per key: returns the message and whether it had been posted already."""
        if key is not None:
            earlier = await self._posted_with(channel_id, key, thread_ts=thread_ts)
            if earlier is not None:
                return earlier, True
        extra: dict[str, Any] = {}
        if key is not None:
            extra["metadata"] = {"event_type": KEY_EVENT_TYPE, "event_payload": {"idempotency_key": key}}
            extra["client_msg_id"] = message_key(key)
        data = await self._call(
            "chat.postMessage",
            self._writer.chat_postMessage(
                channel=channel_id,
                text=text,
                thread_ts=thread_ts,
                reply_broadcast=broadcast if thread_ts else None,
                unfurl_links=False,
                unfurl_media=False,
                **extra,
            ),
        )
        message: dict[str, Any] = dict(data.get("message") or {})
        message.setdefault("ts", data.get("ts"))
        message["channel"] = data.get("channel", channel_id)
        return message, False

    async def _posted_with(
        self, channel_id: str, key: str, *, thread_ts: str | None
    ) -> dict[str, Any] | None:
        if thread_ts is not None:
            recent = await self.replies(channel_id, thread_ts, limit=HISTORY_FOR_REPEATS)
        else:
            recent = await self.history(channel_id, limit=HISTORY_FOR_REPEATS)
        for message in recent:
            payload = (message.get("metadata") or {}).get("event_payload") or {}
            if payload.get("idempotency_key") == key or message.get("client_msg_id") == message_key(key):
                return {**message, "channel": channel_id}
        return None

    async def post_blocks(
        self, channel_id: str, *, text: str, blocks: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """A Block Kit message (approval prompts); `text` is the notification's fallback."""
        return await self._call(
            "chat.postMessage",
            self._writer.chat_postMessage(channel=channel_id, text=text, blocks=blocks, unfurl_links=False),
        )

    async def open_dm(self, user: str) -> str:
        data = await self._form(self._writer, "conversations.open", users=user)
        return str((data.get("channel") or {})["id"])

    async def react(self, channel_id: str, timestamp: str, name: str) -> bool:
        """Adds the reaction; False when the bot had already added it (a repeat changes nothing)."""
        data = await self._form(
            self._writer,
            "reactions.add",
            channel=channel_id,
            timestamp=timestamp,
            name=name,
            tolerate=frozenset({"already_reacted"}),
        )
        return data.get("ok") is True
