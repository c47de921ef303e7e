"""The `owner_in_meeting` trigger condition: whether, at `now`, an event that blocks the owner's time
(busy.py's rule) is in progress on a calendar the account counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from meshclaw.connectors.calendar import busy
from meshclaw.connectors.calendar.agenda import read_occurrences
from meshclaw.connectors.calendar.config import CalendarConfig
from meshclaw.connectors.contract import Account
from meshclaw.tools.registry import ToolError


async def owner_in_meeting(account: Account[Any], now: datetime) -> bool:
    """True when the owner is in a meeting at `now` (naive means UTC). Raises `ToolError` when the server
    cannot answer, so the caller decides what an unknown answer means rather than reading it as 'free'."""
    if not isinstance(account.config, CalendarConfig):
        raise ToolError(f"account '{account.name}' is not a calendar account")
    moment = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    items, _ = await read_occurrences(account, None, moment, moment + timedelta(seconds=1))
    return any(busy.blocks_time(item, account.config) and busy.in_progress(item, moment) for item in items)
