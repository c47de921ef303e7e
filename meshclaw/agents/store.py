"""The SQL of agents and their versions. Callers validate (agents.service) and authorize (the interfaces).

Versions are insert-only: saving a definition either finds the current version has the same digest (the
SHA-256 of the spec's canonical JSON, defaults included) and writes nothing, or inserts version n+1 and
points the agent at it. Nothing here UPDATEs or DELETEs an `agent_versions` row, so version 1 reads the
same forever and a run's recorded version always shows what ran.

A save moves the agent from the version it read to the new one by a conditional UPDATE of the agent's row
(`WHERE current_version_id = <the one read>`), before the new version is inserted: of two saves that read
the same version, one moves the row and the other finds it moved (PostgreSQL makes the second wait for the
first's row lock, then re-reads the row; SQLite lets one writer in at a time) and saves nothing. So every
version's predecessor is the version its writer saw, and a caller that says which version its definition
was made from (`expected_version`: the web form's hidden field, the API's If-Match) never overwrites a
version it has not seen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meshclaw.agents.spec import AgentSpec
from meshclaw.db.models import Agent, AgentVersion, User
from meshclaw.errors import ConflictError, NotFoundError

ApplyOutcome = Literal["created", "updated", "unchanged"]
"""`created`: a new agent with version 1; `updated`: a new version; `unchanged`: the same digest, nothing
written."""


@dataclass(frozen=True, kw_only=True)
class AgentRecord:
    id: int
    org_id: int
    owner_user_id: int
    owner_email: str
    owner_team_id: int | None
    """The owner's team now: what a manager's `team` reach is checked against."""
    name: str
    enabled: bool
    current_version_id: int | None
    current_version: int | None
    """The current version's number (1..n)."""
    created_at: datetime
    updated_at: datetime

    @property
    def label(self) -> str:
        """How lists name it: names are unique per owner only ("triage (ada@example.org)"; metering's
        `labels.agent_labels` writes the same for usage, from the rows, as it cannot import this layer)."""
        return f"{self.name} ({self.owner_email})"


@dataclass(frozen=True, kw_only=True)
class VersionRecord:
    id: int
    agent_id: int
    number: int
    spec_data: dict[str, Any]
    """The spec as stored. Use `spec()` for the model; kept raw so an old version stays readable even if a
    later release validates more strictly."""
    spec_digest: str
    created_by_user_id: int | None
    created_at: datetime

    def spec(self) -> AgentSpec:
        return AgentSpec.model_validate(self.spec_data)


class StaleVersionError(ConflictError):
    """The agent's current version is not the one the definition was made from (or was moved by another
    save at the same moment): saving would silently undo what was saved since, so nothing was saved."""

    def __init__(
        self, *, agent_name: str, expected: int | None, current: VersionRecord | None, by: str | None
    ) -> None:
        self.expected = expected
        """The version the caller's definition was made from (None: it did not say)."""
        self.current = current
        """The agent's current version now (None only for an agent that has none)."""
        self.by = by
        """The email of whoever saved `current`; None for the operator's CLI."""
        if current is None:
            saved = "was changed by someone else"
        else:
            saved = (
                f"is at version {current.number} now, saved {current.created_at:%Y-%m-%d %H:%M:%S} UTC "
                f"by {by or 'the operator (CLI)'}"
            )
        made = f", and this definition was made from version {expected}" if expected is not None else ""
        super().__init__(
            f"agent '{agent_name}' {saved}{made}: nothing was saved; read the current definition, "
            "make your change to it and save again"
        )


@dataclass(frozen=True, kw_only=True)
class Applied:
    agent: AgentRecord
    version: VersionRecord
    outcome: ApplyOutcome
    previous: VersionRecord | None = None
    """For `updated`, the version this one replaced (what an audit record compares it with); else None."""


def canonical_spec(spec: AgentSpec) -> dict[str, Any]:
    """The spec as JSON-ready data, every field present (so a default written out equals one left out)."""
    return spec.model_dump(mode="json")


def spec_digest(spec: AgentSpec) -> str:
    return hashlib.sha256(orjson.dumps(canonical_spec(spec), option=orjson.OPT_SORT_KEYS)).hexdigest()


def _version(row: AgentVersion) -> VersionRecord:
    return VersionRecord(
        id=row.id,
        agent_id=row.agent_id,
        number=row.number,
        spec_data=dict(row.spec),
        spec_digest=row.spec_digest,
        created_by_user_id=row.created_by_user_id,
        created_at=row.created_at,
    )


def _agents_query() -> Any:
    return (
        select(Agent, User.email, User.team_id, AgentVersion.number)
        .join(User, User.id == Agent.owner_user_id)
        .outerjoin(AgentVersion, AgentVersion.id == Agent.current_version_id)
    )


def _record(agent: Agent, email: str, team_id: int | None, number: int | None) -> AgentRecord:
    return AgentRecord(
        id=agent.id,
        org_id=agent.org_id,
        owner_user_id=agent.owner_user_id,
        owner_email=email,
        owner_team_id=team_id,
        name=agent.name,
        enabled=agent.enabled,
        current_version_id=agent.current_version_id,
        current_version=number,
        created_at=agent.created_at,
        updated_at=agent.updated_at,
    )


def get_agent(session: Session, org_id: int, agent_id: int) -> AgentRecord:
    row = session.execute(_agents_query().where(Agent.id == agent_id, Agent.org_id == org_id)).first()
    if row is None:
        raise NotFoundError(f"agent {agent_id} does not exist")
    return _record(*row)


def agent_by_name(session: Session, org_id: int, owner_user_id: int, name: str) -> AgentRecord | None:
    row = session.execute(
        _agents_query().where(
            Agent.org_id == org_id, Agent.owner_user_id == owner_user_id, Agent.name == name
        )
    ).first()
    return _record(*row) if row is not None else None


def list_agents(
    session: Session,
    org_id: int,
    *,
    owner_user_ids: Sequence[int] | None = None,
    team_ids: Sequence[int] | None = None,
) -> list[AgentRecord]:
    """Agents by owner email and name. With `owner_user_ids` and/or `team_ids`, only agents owned by
    those people or by members of those teams (either matches); with neither, all of the organization's."""
    query = _agents_query().where(Agent.org_id == org_id)
    conditions = []
    if owner_user_ids is not None:
        conditions.append(Agent.owner_user_id.in_(list(owner_user_ids)))
    if team_ids is not None:
        conditions.append(User.team_id.in_(list(team_ids)))
    if conditions:
        query = query.where(or_(*conditions))
    rows = session.execute(query.order_by(User.email, Agent.name)).all()
    return [_record(*row) for row in rows]


def list_versions(session: Session, agent_id: int) -> list[VersionRecord]:
    """Newest first."""
    rows = session.scalars(
        select(AgentVersion).where(AgentVersion.agent_id == agent_id).order_by(AgentVersion.number.desc())
    ).all()
    return [_version(row) for row in rows]


def author_emails(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    """The email of each person who saved a version, by user id (`created_by_user_id`; None, the CLI's
    saves, is skipped)."""
    ids = {user_id for user_id in user_ids if user_id is not None}
    if not ids:
        return {}
    return {
        user_id: email
        for user_id, email in session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    }


def get_version(session: Session, agent_id: int, number: int) -> VersionRecord:
    row = session.scalar(
        select(AgentVersion).where(AgentVersion.agent_id == agent_id, AgentVersion.number == number)
    )
    if row is None:
        raise NotFoundError(f"agent {agent_id} has no version {number}", field="version")
    return _version(row)


def get_version_by_id(session: Session, version_id: int) -> VersionRecord:
    row = session.get(AgentVersion, version_id)
    if row is None:
        raise NotFoundError(f"agent version {version_id} does not exist")
    return _version(row)


def save_spec(
    session: Session,
    *,
    org_id: int,
    owner_user_id: int,
    spec: AgentSpec,
    created_by_user_id: int | None,
    now: datetime,
    create_only: bool = False,
    expected_version: int | None = None,
) -> Applied:
    """Create the owner's agent named `spec.name` with version 1, or add a version if the spec differs from
    the current one. With `create_only`, an existing agent of that name is a conflict. With
    `expected_version`, an existing agent whose current version has another number is a `StaleVersionError`,
    even if the spec is unchanged; so is another save moving the agent on meanwhile. The caller commits."""
    digest = spec_digest(spec)
    agent = session.scalar(
        select(Agent).where(
            Agent.org_id == org_id, Agent.owner_user_id == owner_user_id, Agent.name == spec.name
        )
    )
    outcome: ApplyOutcome
    previous: VersionRecord | None
    if agent is None:
        if expected_version is not None:
            raise NotFoundError(
                f"there is no agent '{spec.name}' of this owner, so no version {expected_version} of it; "
                "nothing was saved",
                field="name",
            )
        agent = Agent(
            org_id=org_id,
            owner_user_id=owner_user_id,
            name=spec.name,
            enabled=True,
            created_at=now,
            updated_at=now,
        )
        session.add(agent)
        outcome = "created"
        previous = None
    else:
        if create_only:
            raise ConflictError(
                f"you already have an agent named '{spec.name}'; pick another name or change that one",
                field="name",
            )
        current = session.get(AgentVersion, agent.current_version_id) if agent.current_version_id else None
        if expected_version is not None and (current.number if current else None) != expected_version:
            raise _stale(session, agent, expected_version)
        if current is not None and current.spec_digest == digest:
            return Applied(agent=_reload(session, agent.id), version=_version(current), outcome="unchanged")
        _move_from(session, agent, now=now, expected_version=expected_version)
        outcome = "updated"
        previous = _version(current) if current is not None else None
    try:
        session.flush()
        last = session.scalar(select(func.max(AgentVersion.number)).where(AgentVersion.agent_id == agent.id))
        version = AgentVersion(
            agent_id=agent.id,
            number=(last or 0) + 1,
            spec=canonical_spec(spec),
            spec_digest=digest,
            created_by_user_id=created_by_user_id,
            created_at=now,
        )
        session.add(version)
        session.flush()
    except IntegrityError:
        # Two saves of the same agent at once: one wins the name or the version number, the other says so.
        raise ConflictError(
            f"agent '{spec.name}' was changed at the same moment by someone else; apply it again"
        ) from None
    agent.current_version_id = version.id
    agent.updated_at = now
    session.flush()
    return Applied(
        agent=_reload(session, agent.id), version=_version(version), outcome=outcome, previous=previous
    )


def _move_from(session: Session, agent: Agent, *, now: datetime, expected_version: int | None) -> None:
    """Claim the agent for this save while it still points at the version the save read; the module's
    docstring says why this makes two saves from one version one success and one StaleVersionError."""
    moved = session.execute(
        update(Agent)
        .where(Agent.id == agent.id, Agent.current_version_id == agent.current_version_id)
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(moved, CursorResult)
    if moved.rowcount != 1:
        raise _stale(session, agent, expected_version)


def _stale(session: Session, agent: Agent, expected: int | None) -> StaleVersionError:
    # Read afresh (not the session's Agent object): after a lost race it still holds the version it read.
    row = session.execute(
        select(AgentVersion, User.email)
        .join(Agent, Agent.current_version_id == AgentVersion.id)
        .outerjoin(User, User.id == AgentVersion.created_by_user_id)
        .where(Agent.id == agent.id)
    ).first()
    current, by = (_version(row[0]), row[1]) if row is not None else (None, None)
    return StaleVersionError(agent_name=agent.name, expected=expected, current=current, by=by)


def _reload(session: Session, agent_id: int) -> AgentRecord:
    row = session.execute(_agents_query().where(Agent.id == agent_id)).one()
    return _record(*row)


def set_enabled(session: Session, agent_id: int, *, enabled: bool, now: datetime) -> AgentRecord:
    """The kill switch: a disabled agent keeps its versions but starts no run. The caller commits."""
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise NotFoundError(f"agent {agent_id} does not exist")
    if agent.enabled != enabled:
        agent.enabled = enabled
        agent.updated_at = now
        session.flush()
    return _reload(session, agent_id)
