"""The definition's own checks: each bad input names its field and says why."""

from __future__ import annotations

from typing import Any

import pytest

from meshclaw.agents.files import SpecFileError, spec_from_data
from meshclaw.agents.spec import AgentSpec, CronTrigger


def errors_of(data: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecFileError) as caught:
        spec_from_data(data, source="test.toml")
    assert caught.value.message.startswith("test.toml: ")
    return caught.value.errors


def test_bad_name() -> None:
    assert errors_of({"name": "Inbox Triage"}) == [
        "name: 'Inbox Triage' is not an agent name: use 1-63 lower-case letters, digits, '-' or '_', "
        "starting with a letter or digit"
    ]


def test_unknown_time_zone_names_the_trigger() -> None:
    errors = errors_of(
        {"name": "a", "triggers": [{"kind": "cron", "cron": "daily 03:00", "timezone": "Mars/Base"}]}
    )
    assert errors == [
        "triggers[0].timezone: unknown time zone 'Mars/Base': use an IANA name such as 'Europe/Berlin' or 'UTC'"
    ]


@pytest.mark.parametrize(
    ("cron", "why"),
    [
        ("0 0 30 2 *", "never fires"),
        ("* * * * * *", "six fields (a seconds field): a schedule fires at most once a minute"),
        ("61 * * * *", "is not a valid cron expression"),
        ("weekdays 7am", "write 'weekdays HH:MM' (24-hour)"),
        ("every day", "use five cron fields"),
    ],
)
def test_bad_cron(cron: str, why: str) -> None:
    (error,) = errors_of({"name": "a", "triggers": [{"kind": "cron", "cron": cron}]})
    assert error.startswith(f"triggers[0].cron: '{cron}'")
    assert why in error


def test_an_event_triggers_text_pattern_must_compile() -> None:
    (error,) = errors_of(
        {"name": "a", "triggers": [{"event": "chat.dm_received", "text_matches": "deploy (web"}]}
    )
    assert error.startswith(
        "triggers[0].text_matches: not a valid regular expression (missing ), unterminated"
    )
    assert error.endswith("e.g. 'deploy\\b'")


def test_cron_short_forms_translate() -> None:
    assert CronTrigger(cron="weekdays 07:00").expression() == "0 7 * * 1-5"
    assert CronTrigger(cron="daily 3:05").expression() == "5 3 * * *"
    assert CronTrigger(cron="sundays 10:00").expression() == "0 10 * * 0"
    assert CronTrigger(cron="*/15 9-17 * * 1-5").expression() == "*/15 9-17 * * 1-5"
    zoned = CronTrigger.model_validate({"cron": "weekdays 07:00 Europe/Berlin"})
    assert (zoned.cron, zoned.timezone) == ("weekdays 07:00", "Europe/Berlin")


def test_unknown_key_is_refused_not_ignored() -> None:
    assert errors_of({"name": "a", "limits": {"max_stesp": 3}}) == [
        "limits.max_stesp: unknown field: check its spelling (the README's Agents section lists the fields)"
    ]


def test_mcp_server_with_both_command_and_url() -> None:
    errors = errors_of(
        {"name": "a", "mcp_servers": [{"name": "gh", "command": ["gh-mcp"], "url": "https://x.example/mcp"}]}
    )
    assert errors == ["mcp_servers[0]: give exactly one of 'command' (stdio) or 'url' (streamable HTTP)"]


def test_every_problem_is_listed_and_the_first_is_the_message() -> None:
    with pytest.raises(SpecFileError) as caught:
        spec_from_data(
            {"name": "ok", "triggers": [{"kind": "interval", "every_seconds": 1}, {"kind": "hourly"}]},
            source="a.yaml",
        )
    assert caught.value.errors == [
        "triggers[0].every_seconds: Input should be greater than or equal to 60",
        "triggers[1]: unknown trigger kind: use cron, interval, once or event",
    ]
    assert caught.value.message == f"a.yaml: {caught.value.errors[0]} (and 1 more)"
    assert caught.value.field == "triggers[0].every_seconds"


def test_a_minimal_definition_is_valid() -> None:
    spec = AgentSpec(name="a")
    assert spec.model is None and spec.memory is True and spec.triggers == ()


def test_a_trigger_kind_is_implied_by_its_key() -> None:
    spec = AgentSpec.model_validate(
        {
            "name": "a",
            "triggers": [{"cron": "daily 03:00"}, {"every_seconds": 600}, {"event": "email.received"}],
        }
    )
    assert [t.kind for t in spec.triggers] == ["cron", "interval", "event"]
    assert errors_of({"name": "a", "triggers": [{"timezone": "UTC"}]}) == [
        "triggers[0]: a trigger needs 'kind': cron, interval, once or event"
    ]
