"""First start: create the organization and a one-time link for setting the first admin's password.

Until an admin exists, every start prints a fresh link (older unused links stay valid until they
expire), so an operator who lost the first one only has to restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.db.models import Organization, SetupToken, User
from meshclaw.errors import AuthenticationError, ConflictError
from meshclaw.identity import store
from meshclaw.identity.passwords import hash_password
from meshclaw.identity.principal import Role
from meshclaw.identity.tokens import digest, new_token

FIRST_ADMIN = "first_admin"


@dataclass(frozen=True, kw_only=True)
class Bootstrap:
    org: Organization
    org_created: bool
    setup_token: str | None
    """A one-time token for /setup/<token>, issued while no admin exists."""


def bootstrap(session: Session, *, org_name: str, token_ttl: timedelta, now: datetime) -> Bootstrap:
    org, created = store.ensure_org(session, name=org_name, now=now)
    token: str | None = None
    if store.count_admins(session, org.id) == 0:
        token = issue_token(session, purpose=FIRST_ADMIN, user_id=None, ttl=token_ttl, now=now)
    return Bootstrap(org=org, org_created=created, setup_token=token)


def issue_token(session: Session, *, purpose: str, user_id: int | None, ttl: timedelta, now: datetime) -> str:
    token = new_token()
    session.add(
        SetupToken(
            token_hash=digest(token), purpose=purpose, user_id=user_id, created_at=now, expires_at=now + ttl
        )
    )
    session.flush()
    return token


def live_token(session: Session, token: str, *, now: datetime) -> SetupToken:
    row = session.scalars(select(SetupToken).where(SetupToken.token_hash == digest(token))).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise AuthenticationError("this link is invalid, already used or expired; ask an admin for a new one")
    return row


def complete_first_admin(
    session: Session, token: str, *, email: str, name: str, password: str, now: datetime
) -> User:
    """Use a first-admin link: create the admin with this password and burn the link."""
    row = live_token(session, token, now=now)
    org = store.get_org(session)
    assert org is not None, "bootstrap creates the organization before any link exists"
    if row.purpose != FIRST_ADMIN:
        raise AuthenticationError("this link is not a first-admin link")
    if store.count_admins(session, org.id) > 0:
        raise ConflictError("an admin already exists; sign in instead")
    user = store.create_user(
        session,
        org_id=org.id,
        email=email,
        name=name,
        role=Role.ADMIN,
        password_hash=hash_password(password),
        now=now,
    )
    row.used_at = now
    for other in session.scalars(
        select(SetupToken).where(SetupToken.purpose == FIRST_ADMIN, SetupToken.used_at.is_(None))
    ):
        other.used_at = now
    session.flush()
    return user
