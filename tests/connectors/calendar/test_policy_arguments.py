"""The tools' arguments follow the policy's naming conventions, so the gate can judge them: `attendees` are
destinations (`recipient_domains` narrows them) and `calendar` is what the `calendars` scope narrows."""

from __future__ import annotations

from meshclaw.agents.spec import ToolGrant
from meshclaw.connectors.calendar.manifest import connector
from meshclaw.connectors.contract import StaticAccounts
from meshclaw.policy.destinations import destinations
from meshclaw.policy.scopes import out_of_scope

MEETING = {
    "account": "work-calendar", "calendar": "Work", "summary": "Plan", "start": "2026-11-23T09:00:00Z",
    "end": "2026-11-23T10:00:00Z", "attendees": ["bob@example.test", "zoë@partner.example.org"],
}  # fmt: skip


def test_attendees_are_destinations_and_recipient_domains_narrow_them() -> None:
    assert [d.domain for d in destinations(MEETING)] == ["example.test", "partner.example.org"]
    grant = ToolGrant(
        tool="calendar_create_meeting",
        account="work-calendar",
        scopes={"recipient_domains": ("example.test",)},
    )
    assert out_of_scope(grant, MEETING) == (
        "'zoë@partner.example.org' is outside the granted recipient domains (example.test)"
    )
    assert out_of_scope(grant, {**MEETING, "attendees": ["bob@example.test"]}) is None


def test_the_calendars_scope_narrows_the_calendar_argument() -> None:
    grant = ToolGrant(tool="calendar_create_event", account="work-calendar", scopes={"calendars": ("Work",)})
    event = {key: value for key, value in MEETING.items() if key != "attendees"}
    assert out_of_scope(grant, event) is None
    assert (
        out_of_scope(grant, {**event, "calendar": "Family"})
        == "calendar 'Family' is outside the granted calendars (Work)"
    )


def test_only_the_meeting_tool_has_destination_arguments() -> None:
    for tool in connector().tools(StaticAccounts()):
        has_destinations = any(name == "attendees" for name in tool.args.model_fields)
        assert has_destinations is (tool.name == "calendar_create_meeting"), tool.name
        assert "url" not in tool.args.model_fields  # would read as a destination
