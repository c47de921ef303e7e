"""One CalDAV account: where the server is, who logs in, which calendars count, and how to read times."""

from __future__ import annotations

from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator

from meshclaw.clock import time_zone
from meshclaw.connectors.contract import AccountConfig

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class CalendarConfig(AccountConfig):
    url: str = Field(
        description="The CalDAV server's URL, e.g. https://dav.example.com/ (http:// only on loopback)"
    )
    username: str = Field(min_length=1, description="The login name")
    password: SecretStr = Field(
        description="The password or app password (`vault:NAME` in the stored account)"
    )
    calendars: tuple[str, ...] = Field(
        default=(),
        description="Calendars (display name or collection id) that count for free/busy, meetings and the "
        "poll; empty means every calendar of the login. Tools may still name others explicitly.",
    )
    timezone: str = Field(
        default="UTC",
        description="The owner's IANA time zone: all-day and floating events are placed in it, and times "
        "are returned in it",
    )
    owner_email: str | None = Field(
        default=None,
        description="The owner's address as it appears among attendees (to skip events they declined); "
        "defaults to the username when that is an address",
    )
    all_day_events_are_meetings: bool = Field(
        default=False, description="Whether an all-day event makes the owner 'in a meeting' and busy"
    )
    poll_interval_seconds: float = Field(
        default=60.0, ge=1.0, le=3600.0, description="How often the event source looks at the calendars"
    )
    timeout_seconds: float = Field(
        default=20.0, gt=0.0, le=300.0, description="Longest wait for the server on one operation"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("url must be https://HOST/... (or http:// for a server on this machine)")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK:
            raise ValueError(
                "url must use https:// unless the server is on this machine (the password would travel in clear)"
            )
        if parts.username or parts.password:
            raise ValueError("url must not hold credentials: use username and password")
        return value if value.endswith("/") else value + "/"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if time_zone(value) is None:
            raise ValueError(f"unknown time zone '{value[:60]}' (use an IANA name such as Europe/Berlin)")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def owner_address(self) -> str | None:
        """Lower-case address of the owner among attendees, if known."""
        if self.owner_email:
            return self.owner_email.lower()
        return self.username.lower() if "@" in self.username else None
