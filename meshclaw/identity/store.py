"""All SQL for identity: the organization, teams, users and API keys.

Business rules that need the database live here too (unique emails, no cycles in the team tree or the
manager chain), so the API, the web UI, the CLI and the org import share one set of checks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from enum import Enum

from sqlalchemy import func, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meshclaw.db.models import ApiKey, Organization, Team, User
from meshclaw.db.row_ids import row_id_of
from meshclaw.errors import ConflictError, InvalidInputError, NotFoundError
from meshclaw.identity.authorize import Reach
from meshclaw.identity.principal import ALL_KEY_SCOPES, KeyScope, Principal, Role
from meshclaw.identity.tokens import digest, key_prefix, new_api_key


class Unset(Enum):
    """Marks an optional update argument that was not given (None means "clear the field")."""

    TOKEN = 0


UNSET = Unset.TOKEN
# Control characters are refused everywhere: PostgreSQL cannot store NUL in text at all (SQLite can, so
# without this check the same input would work on one backend and fail with a 500 on the other).
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME = 200


def normalize_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not _EMAIL.match(cleaned) or len(cleaned) > 320:
        shown = _CONTROL.sub("?", email)
        raise InvalidInputError(f"'{shown}' is not an email address (expected name@domain)", field="email")
    return cleaned


def parse_role(role: str) -> Role:
    try:
        return Role(role.strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInputError(f"unknown role '{role}'; use one of: {allowed}", field="role") from None


def clean_name(name: str, what: str) -> str:
    """The name without surrounding blanks; raises unless it is 1 to MAX_NAME printable characters."""
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInputError(f"{what} name must not be empty", field="name")
    if len(cleaned) > MAX_NAME:
        raise InvalidInputError(f"{what} name must be at most {MAX_NAME} characters", field="name")
    if _CONTROL.search(cleaned):
        raise InvalidInputError(
            f"{what} name must not contain line breaks or control characters", field="name"
        )
    return cleaned


def _flush_unique(session: Session, conflict: ConflictError) -> None:
    """Flush, turning a unique-constraint violation into `conflict`.

    The look-up before an insert cannot see a row another request is inserting at the same moment; the
    database's unique constraint is what really decides, so its refusal must be a 409, not a 500. The
    transaction is then unusable, which is fine: the error ends it.
    """
    try:
        session.flush()
    except IntegrityError as exc:
        # Only a unique violation means "already exists"; a vanished foreign key stays an error.
        unique = type(exc.orig).__name__ == "UniqueViolation" or (
            getattr(exc.orig, "sqlite_errorname", "") == "SQLITE_CONSTRAINT_UNIQUE"
        )
        if not unique:
            raise
        raise conflict from None


# --- organization ---------------------------------------------------------------------------------


def get_org(session: Session) -> Organization | None:
    return session.scalars(select(Organization).order_by(Organization.id).limit(1)).first()


def ensure_org(session: Session, *, name: str, now: datetime) -> tuple[Organization, bool]:
    """The deployment's one organization, created on first call. Returns `(org, created)`."""
    org = get_org(session)
    if org is not None:
        return org, False
    org = Organization(name=clean_name(name, "organization"), created_at=now)
    session.add(org)
    session.flush()
    return org, True


# --- teams ----------------------------------------------------------------------------------------


def list_teams(session: Session, org_id: int) -> Sequence[Team]:
    return session.scalars(select(Team).where(Team.org_id == org_id).order_by(Team.name)).all()


def get_team(session: Session, org_id: int, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None or team.org_id != org_id:
        raise NotFoundError(f"team {team_id} does not exist")
    return team


def team_by_name(session: Session, org_id: int, name: str) -> Team | None:
    return session.scalars(select(Team).where(Team.org_id == org_id, Team.name == name.strip())).first()


def create_team(
    session: Session, *, org_id: int, name: str, parent_id: int | None = None, now: datetime
) -> Team:
    clean = clean_name(name, "team")
    if team_by_name(session, org_id, clean) is not None:
        raise ConflictError(f"a team named '{clean}' already exists", field="name")
    if parent_id is not None:
        get_team(session, org_id, parent_id)
    team = Team(org_id=org_id, name=clean, parent_id=parent_id, created_at=now)
    session.add(team)
    _flush_unique(session, ConflictError(f"a team named '{clean}' already exists", field="name"))
    return team


def update_team(
    session: Session, team: Team, *, name: str | None = None, parent_id: int | Unset | None = UNSET
) -> Team:
    """Rename a team and/or move it under another parent (`parent_id=None` makes it top-level)."""
    if name is not None:
        clean = clean_name(name, "team")
        other = team_by_name(session, team.org_id, clean)
        if other is not None and other.id != team.id:
            raise ConflictError(f"a team named '{clean}' already exists", field="name")
        team.name = clean
    if parent_id is not UNSET:
        if isinstance(parent_id, int):
            get_team(session, team.org_id, parent_id)
            if parent_id in subtree_team_ids(session, team.id):
                raise ConflictError(
                    "that parent is the team itself or one of its sub-teams; the team tree cannot have a cycle",
                    field="parent_id",
                )
        team.parent_id = parent_id if isinstance(parent_id, int) else None
    session.flush()
    return team


def subtree_team_ids(session: Session, team_id: int) -> frozenset[int]:
    """The team and every team below it, by a recursive query (same SQL on SQLite and PostgreSQL)."""
    tree = select(Team.id).where(Team.id == team_id).cte("tree", recursive=True)
    tree = tree.union(select(Team.id).join(tree, Team.parent_id == tree.c.id))
    return frozenset(session.scalars(select(tree.c.id)).all())


def delete_team(session: Session, team: Team) -> None:
    if session.scalar(select(func.count()).select_from(Team).where(Team.parent_id == team.id)):
        raise ConflictError(f"team '{team.name}' has sub-teams; move or delete them first")
    if session.scalar(select(func.count()).select_from(User).where(User.team_id == team.id)):
        raise ConflictError(f"team '{team.name}' still has members; move them to another team first")
    session.delete(team)
    session.flush()


# --- users ----------------------------------------------------------------------------------------


def user_by_email(session: Session, org_id: int, email: str) -> User | None:
    return session.scalars(
        select(User).where(User.org_id == org_id, User.email == email.strip().lower())
    ).first()


def user_id_by_email(session: Session, org_id: int, email: str | None) -> int | None:
    """The id of the person with this email (None for None: "nobody", e.g. an organization's secret);
    `NotFoundError` when nobody has it. For commands that take an optional `--owner EMAIL`."""
    if email is None:
        return None
    user = user_by_email(session, org_id, email)
    if user is None:
        raise NotFoundError(f"no user with email {email}")
    return user.id


def get_user(session: Session, org_id: int, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or user.org_id != org_id:
        raise NotFoundError(f"user {user_id} does not exist")
    return user


def count_admins(session: Session, org_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.org_id == org_id, User.role == Role.ADMIN.value, User.active.is_(True))
        )
        or 0
    )


def create_user(
    session: Session,
    *,
    org_id: int,
    email: str,
    name: str | None = None,
    role: Role = Role.MEMBER,
    team_id: int | None = None,
    manager_id: int | None = None,
    password_hash: str | None = None,
    now: datetime,
) -> User:
    clean_email = normalize_email(email)
    if user_by_email(session, org_id, clean_email) is not None:
        raise ConflictError(f"a user with email {clean_email} already exists", field="email")
    if team_id is not None:
        get_team(session, org_id, team_id)
    if manager_id is not None:
        get_user(session, org_id, manager_id)
    user = User(
        org_id=org_id,
        email=clean_email,
        name=clean_name(name or clean_email.split("@")[0], "user"),
        role=role.value,
        team_id=team_id,
        manager_id=manager_id,
        password_hash=password_hash,
        active=True,
        created_at=now,
    )
    session.add(user)
    _flush_unique(session, ConflictError(f"a user with email {clean_email} already exists", field="email"))
    return user


def manager_chain_has(session: Session, start_manager_id: int, user_id: int) -> bool:
    """True when `user_id` appears in the management chain starting at `start_manager_id`."""
    chain = select(User.id, User.manager_id).where(User.id == start_manager_id).cte("chain", recursive=True)
    chain = chain.union(select(User.id, User.manager_id).join(chain, User.id == chain.c.manager_id))
    return bool(session.scalar(select(literal(1)).select_from(chain).where(chain.c.id == user_id).limit(1)))


def update_user(
    session: Session,
    user: User,
    *,
    name: str | None = None,
    role: Role | None = None,
    team_id: int | Unset | None = UNSET,
    manager_id: int | Unset | None = UNSET,
    active: bool | None = None,
    password_hash: str | None = None,
) -> User:
    if name is not None:
        user.name = clean_name(name, "user")
    demoting_admin = user.role == Role.ADMIN.value and (
        (role is not None and role != Role.ADMIN) or active is False
    )
    if demoting_admin and count_admins(session, user.org_id) <= 1:
        raise ConflictError("this is the last active admin; make someone else admin first", field="role")
    if role is not None:
        user.role = role.value
    if active is not None:
        user.active = active
    if team_id is not UNSET:
        if isinstance(team_id, int):
            get_team(session, user.org_id, team_id)
        user.team_id = team_id if isinstance(team_id, int) else None
    if manager_id is not UNSET:
        if isinstance(manager_id, int):
            get_user(session, user.org_id, manager_id)
            if manager_id == user.id or manager_chain_has(session, manager_id, user.id):
                raise ConflictError(
                    "that manager reports to this user (directly or indirectly); the chain cannot have a cycle",
                    field="manager_id",
                )
        user.manager_id = manager_id if isinstance(manager_id, int) else None
    if password_hash is not None:
        user.password_hash = password_hash
    session.flush()
    return user


def list_users(
    session: Session,
    principal: Principal,
    reach: Reach,
    *,
    team_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[Sequence[User], int]:
    """Users the principal may see, per the `reach` that `authorize.reach()` granted. Returns `(page, total)`."""
    query = select(User).where(User.org_id == principal.org_id)
    if reach == "own":
        query = query.where(User.id == principal.user_id)
    elif reach == "team":
        query = query.where(
            (User.id == principal.user_id) | User.team_id.in_(principal.managed_team_ids or {-1})
        )
    if team_id is not None:
        query = query.where(User.team_id == team_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = session.scalars(query.order_by(User.id).limit(limit).offset(offset)).all()
    return page, total


def principal_for(session: Session, user: User, *, key: ApiKey | None = None) -> Principal:
    role = Role(user.role)
    managed = (
        subtree_team_ids(session, user.team_id)
        if role == Role.MANAGER and user.team_id is not None
        else frozenset()
    )
    return Principal(
        user_id=user.id,
        org_id=user.org_id,
        role=role,
        email=user.email,
        team_id=user.team_id,
        managed_team_ids=managed,
        key_id=key.id if key else None,
        key_scopes=frozenset(KeyScope(s) for s in key.scopes) if key else None,
    )


# --- API keys -------------------------------------------------------------------------------------


def parse_scopes(scopes: Sequence[str] | None) -> list[str]:
    if not scopes:
        return [scope.value for scope in ALL_KEY_SCOPES]
    result: list[str] = []
    for raw in scopes:
        try:
            result.append(KeyScope(raw.strip()).value)
        except ValueError:
            allowed = ", ".join(s.value for s in KeyScope)
            raise InvalidInputError(
                f"unknown key scope '{raw}'; use any of: {allowed}", field="scopes"
            ) from None
    return sorted(set(result))


def create_key(
    session: Session,
    *,
    org_id: int,
    owner_user_id: int,
    name: str,
    scopes: Sequence[str] | None = None,
    expires_at: datetime | None = None,
    now: datetime,
) -> tuple[ApiKey, str]:
    """Create a key and return it with the full secret, which is never retrievable again."""
    if expires_at is not None and expires_at <= now:
        raise InvalidInputError("the expiry must be in the future", field="expires_at")
    owner = get_user(session, org_id, owner_user_id)
    prefix, full_key = new_api_key()
    key = ApiKey(
        org_id=org_id,
        name=clean_name(name, "key"),
        prefix=prefix,
        secret_hash=digest(full_key),
        owner_user_id=owner.id,
        scopes=parse_scopes(scopes),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, full_key


def list_keys(session: Session, org_id: int, *, owner_user_id: int | None = None) -> Sequence[ApiKey]:
    query = select(ApiKey).where(ApiKey.org_id == org_id)
    if owner_user_id is not None:
        query = query.where(ApiKey.owner_user_id == owner_user_id)
    return session.scalars(query.order_by(ApiKey.id)).all()


def get_key(session: Session, org_id: int, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None or key.org_id != org_id:
        raise NotFoundError(f"API key {key_id} does not exist")
    return key


def key_by_prefix(session: Session, org_id: int, prefix: str) -> ApiKey:
    key = session.scalars(select(ApiKey).where(ApiKey.org_id == org_id, ApiKey.prefix == prefix)).first()
    if key is None:
        raise NotFoundError(f"no API key with prefix {prefix}")
    return key


def key_by_id_or_prefix(session: Session, org_id: int, text: str) -> ApiKey:
    """A key named the way people name it: its prefix, or its id. A prefix can be all digits (it is random),
    so a prefix match wins and an id is tried only when no prefix matches."""
    try:
        return key_by_prefix(session, org_id, text)
    except NotFoundError:
        key_id = row_id_of(text)
        if key_id is None:
            raise
    try:
        return get_key(session, org_id, key_id)
    except NotFoundError:
        raise NotFoundError(f"no API key with id or prefix {text}") from None


def revoke_key(session: Session, key: ApiKey, *, now: datetime) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = now
        session.flush()
    return key


def find_live_key(session: Session, full_key: str, *, now: datetime) -> ApiKey | None:
    """The key matching this secret if it exists, is not revoked and has not expired."""
    if key_prefix(full_key) is None:
        return None
    key = session.scalars(select(ApiKey).where(ApiKey.secret_hash == digest(full_key))).first()
    if key is None or key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    return key


def touch_key(session: Session, key_id: int, *, now: datetime) -> None:
    session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))
