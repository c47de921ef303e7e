"""The cast of the detector tests: steady peers, a genuine heavy user, and one tokenmaxxer per signal.

Every tokenmaxxer makes 300 calls in the week (1.2M effective tokens, as many as the heavy user) and
achieves almost nothing, so each is also low-yield; what differs is the pattern its signal looks for.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from tests.clarity.conftest import WEEK, World
from tests.conftest import Person

STEADY_PEERS = 16
HEAVY = "heavy@example.org"


def monday(week: date) -> datetime:
    return datetime(week.year, week.month, week.day, tzinfo=UTC)


def peers(world: World, week: date = WEEK) -> list[Person]:
    people = [world.person(f"steady{index}@example.org") for index in range(STEADY_PEERS)]
    for person in people:
        world.steady(person, week)
    return people


def heavy(world: World) -> Person:
    """Ten times a steady person's calls, and ten times the outcomes."""
    person = world.person(HEAVY)
    world.steady(person, days=5, calls_per_day=60)
    return person


def _busy(world: World, person: Person, **call: object) -> list[datetime]:
    moments = world.working_hours(WEEK, 5, 60)
    for moment in moments:
        world.call(person, moment, **call)  # type: ignore[arg-type]
    return moments


def low_yield(world: World) -> Person:
    person = world.person("grinder@example.org")
    moments = _busy(world, person)
    world.outcome(person, moments[0])
    return person


def prompt_repetition(world: World) -> Person:
    person = world.person("looper@example.org")
    for index, moment in enumerate(world.working_hours(WEEK, 5, 60)):
        world.call(person, moment, prompt_hash=f"{index % 3:032x}")
    return person


def machine_cadence(world: World) -> Person:
    person = world.person("metronome@example.org")
    for index in range(300):
        world.call(person, monday(WEEK) + timedelta(minutes=20 * index))
    return person


def personal_key_automation(world: World) -> Person:
    person = world.person("scripter@example.org")
    _busy(world, person, initiator="automation", client="python-sdk", attributes={"app.entrypoint": "sdk-py"})
    return person


def read_only(world: World) -> Person:
    person = world.person("reader@example.org")
    moments = _busy(world, person)
    for moment in moments[::5]:
        world.activity(person, moment, "claude_code.tool_result", tool_name="Read", success=True)
        world.activity(person, moment, "claude_code.tool_result", tool_name="WebFetch", success=True)
    return person


def discard_rate(world: World) -> Person:
    person = world.person("discarder@example.org")
    moments = _busy(world, person)
    for index, moment in enumerate(moments[:20]):
        world.outcome(person, moment, "code_edit.decided", accepted=index < 2)
    return person


def fan_out(world: World) -> Person:
    person = world.person("fanner@example.org")
    for index, moment in enumerate(world.working_hours(WEEK, 5, 60)):
        world.call(person, moment, session_id=f"fan-{index % 8}")
    return person


def error_loop(world: World) -> Person:
    person = world.person("retrier@example.org")
    for index, moment in enumerate(world.working_hours(WEEK, 5, 60)):
        failed = index % 2 == 0
        world.call(
            person,
            moment,
            status="error" if failed else "ok",
            attributes={"attempt": 4} if failed else None,
        )
    return person


MAXXERS = {
    "low_yield": low_yield,
    "prompt_repetition": prompt_repetition,
    "machine_cadence": machine_cadence,
    "personal_key_automation": personal_key_automation,
    "read_only": read_only,
    "discard_rate": discard_rate,
    "fan_out": fan_out,
    "error_loop": error_loop,
}
