"""What usage-report imports share: the bad-row report, the users a report's rows can name, and the
batch of events a file becomes.

A file is mapped completely before anything is recorded: with bad rows it records nothing unless the
caller chose to skip them. Event ids derive from the report's own keys (tool, day, person, measure), so
importing the same file, or an overlapping export, again adds nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from meshclaw.errors import InvalidInputError
from meshclaw.metering.decisions import decision_quantities
from meshclaw.metering.events import ActivityEvent, OutcomeEvent, UsageEvent
from meshclaw.metering.otel_values import event_id


@dataclass(frozen=True)
class BadRow:
    line: int
    error: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.error}"


class BadRowsError(InvalidInputError):
    """The file has bad rows and the caller did not ask to skip them; nothing was imported."""

    def __init__(self, bad: list[BadRow]) -> None:
        super().__init__(
            f"{len(bad)} bad row(s); nothing was imported. Fix them, or import the good rows with --skip-bad "
            "(skip_bad=true)"
        )
        self.errors = [str(row) for row in bad]
        self.bad = bad


class RowError(Exception):
    """One row is unusable; the message says which field and why."""


@dataclass(frozen=True)
class UserIndex:
    """MeshClaw's people as a report can name them: by email, and by login (a GitHub login is matched
    through an explicit map, or to the one user whose email's local part equals it)."""

    by_email: Mapping[str, int]
    by_login: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, users: Mapping[str, int], *, logins: Mapping[str, str] | None = None) -> UserIndex:
        """`users`: email -> id. `logins`: login -> email, for logins that are not an email's local part."""
        local: dict[str, list[int]] = {}
        for email, user_id in users.items():
            local.setdefault(email.split("@", 1)[0].lower(), []).append(user_id)
        by_login = {login: ids[0] for login, ids in local.items() if len(ids) == 1}
        for login, email in (logins or {}).items():
            mapped = users.get(email.strip().lower())
            if mapped is None:
                raise InvalidInputError(f"the login map names {email}, who is not a MeshClaw user")
            by_login[login.strip().lower()] = mapped
        return cls(by_email={e.lower(): i for e, i in users.items()}, by_login=by_login)

    def email(self, value: Any) -> int:
        if not isinstance(value, str) or "@" not in value:
            raise RowError("email is missing or not an email address")
        user_id = self.by_email.get(value.strip().lower())
        if user_id is None:
            raise RowError(f"no MeshClaw user has the email {value.strip()}")
        return user_id

    def login(self, value: Any) -> int:
        if not isinstance(value, str) or not value.strip():
            raise RowError("user_login is missing")
        user_id = self.by_login.get(value.strip().lower())
        if user_id is None:
            raise RowError(
                f"no MeshClaw user matches the login '{value.strip()}'; map it with --login {value.strip()}=EMAIL"
            )
        return user_id


def counter(row: Mapping[str, Any], name: str) -> int:
    """A non-negative whole number field; absent means 0."""
    value = row.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or int(value) != value:
        raise RowError(f"{name} must be a whole number >= 0, not {value!r}")
    return int(value)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass
class ImportBatch:
    tool: str
    rows: int = 0
    bad: list[BadRow] = field(default_factory=list)
    usage: list[UsageEvent] = field(default_factory=list)
    outcomes: list[OutcomeEvent] = field(default_factory=list)
    activities: list[ActivityEvent] = field(default_factory=list)

    def outcome(
        self, day: date, user_id: int, type_: str, quantity: float, *, key: str, accepted: bool | None = None
    ) -> None:
        """One measure of one person's day; decisions become one event per decision (`decisions.py`)."""
        if quantity <= 0:
            return
        base = event_id(f"import-{self.tool}", key, day.isoformat(), type_, accepted)
        quantities = decision_quantities(quantity) if accepted is not None else [float(quantity)]
        for index, amount in enumerate(quantities):
            self.outcomes.append(
                OutcomeEvent(
                    event_id=base if index == 0 else f"{base}:{index}",
                    type=type_,
                    occurred_at=day_start(day),
                    source="import",
                    quantity=amount,
                    accepted=accepted,
                    user_id=user_id,
                    client=self.tool,
                )
            )

    def activity(self, day: date, user_id: int, name: str, *, key: str, attributes: dict[str, Any]) -> None:
        self.activities.append(
            ActivityEvent(
                event_id=event_id(f"import-{self.tool}", key, day.isoformat(), name),
                name=name,
                occurred_at=day_start(day),
                source="import",
                user_id=user_id,
                client=self.tool,
                attributes=attributes,
            )
        )

    def day_window(self, day: date) -> tuple[datetime, datetime]:
        start = day_start(day)
        return start, start + timedelta(days=1)
