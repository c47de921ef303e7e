"""What usage groups are called on pages, in the API and in flags: people by email, teams by name, agents
by name and owner.

An agent's name alone is not enough: names are unique per owner, so two people's `inbox-triage` agents
would read the same in an admin's table. An id no longer in the database (a deleted team, an agent known
only from imported or simulated usage) keeps a readable "agent 7".
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.db.models import Agent, Team, User

GroupKey = int | str | None
"""A group's key: an id for people, teams and agents, a name for the others, None for "none"."""


def agent_labels(session: Session, ids: Collection[int]) -> dict[int, str]:
    """{agent id: "name (owner's email)"} for each of `ids`, "agent <id>" for one not found."""
    labels = {agent_id: f"agent {agent_id}" for agent_id in ids}
    if labels:
        rows = session.execute(
            select(Agent.id, Agent.name, User.email)
            .join(User, User.id == Agent.owner_user_id)
            .where(Agent.id.in_(sorted(labels)))
        )
        labels.update({agent_id: f"{name} ({email})" for agent_id, name, email in rows})
    return labels


def group_labels(session: Session, dimension: str, keys: Collection[GroupKey]) -> dict[GroupKey, str]:
    """Labels for the keys of one grouping: ids for `user`, `team` and `agent`, names as they are for the
    others (models, clients, sources). None (no user, no agent) gets no label; the caller names it."""
    ids = sorted(key for key in keys if isinstance(key, int))
    found: dict[int, str]
    if dimension == "user":
        found = dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())
    elif dimension == "team":
        found = dict(session.execute(select(Team.id, Team.name).where(Team.id.in_(ids))).all())
    elif dimension == "agent":
        found = agent_labels(session, ids)
    else:
        return {key: key for key in keys if isinstance(key, str)}
    return {key: found[key] for key in ids if key in found}
