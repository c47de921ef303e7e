"""Built-in tools that need no connector and no account: registered through the same `register` call
connectors use."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from meshclaw.clock import time_zone
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolError, ToolRegistry, ToolSpec


class NowArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(default="UTC", description="An IANA time zone such as 'Europe/Berlin'.")


async def time_get_now(args: NowArgs) -> str:
    zone = time_zone(args.timezone)
    if zone is None:
        raise ToolError(f"unknown time zone '{args.timezone[:60]}'; use an IANA name such as 'Europe/Berlin'")
    return datetime.now(UTC).astimezone(zone).isoformat(timespec="seconds")


def register_builtins(registry: ToolRegistry) -> None:
    registry.register(
        ToolSpec(
            name="time_get_now",
            description="The current date and time, ISO 8601, in a time zone (UTC unless given).",
            effect=EffectClass.READ_PRIVATE,
            args=NowArgs,
            function=time_get_now,
        )
    )
