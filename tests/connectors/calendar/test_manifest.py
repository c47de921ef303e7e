"""The connector's shape: found by the catalog, every tool classified, described and strictly typed,
secrets secret, and `check` proving an account works (and failing clearly when it does not)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from meshclaw.connectors.calendar.config import CalendarConfig
from meshclaw.connectors.calendar.manifest import connector
from meshclaw.connectors.catalog import connector_names, load
from meshclaw.connectors.contract import StaticAccounts
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolError, ToolRegistry
from tests.connectors.calendar.conftest import account, run
from tests.servers.calendar import CalendarServer

EFFECTS = {
    "calendar_list_calendars": EffectClass.READ_PRIVATE,
    "calendar_list_events": EffectClass.READ_UNTRUSTED,
    "calendar_get_freebusy": EffectClass.READ_PRIVATE,
    "calendar_create_event": EffectClass.WRITE_INTERNAL,
    "calendar_create_meeting": EffectClass.COMMUNICATE_EXTERNAL,
}


def test_the_catalog_finds_it() -> None:
    assert "calendar" in connector_names()
    assert load("calendar").config is CalendarConfig


def test_every_tool_is_classified_described_and_strict() -> None:
    registry = ToolRegistry()
    for tool in connector().tools(StaticAccounts()):
        registry.register(tool)
        assert tool.description.strip() and tool.origin == "calendar"
        assert tool.args.model_config.get("extra") == "forbid"
        assert "account" in tool.args.model_json_schema()["required"]
        for name, field in tool.args.model_fields.items():
            assert field.description, f"{tool.name}.{name} has no description"
    assert {tool.name: tool.effect for tool in registry} == EFFECTS
    assert registry.get("calendar_list_events").untrusted_result is True  # type: ignore[union-attr]
    meeting = registry.get("calendar_create_meeting")
    assert meeting is not None and set(meeting.scopes) == {"calendars", "recipient_domains"}
    assert "attendees" in meeting.args.model_fields  # a destination argument the gate judges


def test_the_password_is_secret() -> None:
    config = CalendarConfig(url="https://dav.example.com/", username="a", password=SecretStr("hunter2"))
    assert "hunter2" not in repr(config) and "hunter2" not in config.model_dump_json()


def test_check_describes_a_working_account_and_refuses_a_wrong_password(
    radicale: CalendarServer, work: str
) -> None:
    assert (
        run(connector().check(account(radicale, calendars=(work,))))
        == f"{work}: 0 events in the next 24 hours"
    )
    with pytest.raises(ToolError, match="refused the login"):
        run(connector().check(account(radicale, password=SecretStr("wrong"))))
