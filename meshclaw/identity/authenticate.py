"""Turning a credential into a `Principal`: API keys, web sessions, passwords with rate limiting.

Sign-in attempts are limited per email and per client address over a sliding window kept in the
database, so the limit holds across several server processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from meshclaw.db.models import LoginFailure, User, WebSession
from meshclaw.errors import AuthenticationError, RateLimitedError
from meshclaw.identity import store
from meshclaw.identity.passwords import verify_password
from meshclaw.identity.principal import Principal
from meshclaw.identity.tokens import digest, new_token


@dataclass(frozen=True, kw_only=True)
class LoginLimits:
    max_failures: int
    window: timedelta


@dataclass(frozen=True, kw_only=True)
class NewSession:
    token: str
    """Goes into the cookie; only its digest is stored."""
    csrf_token: str
    expires_at: datetime
    user: User


def principal_from_key(session: Session, full_key: str, *, now: datetime) -> Principal:
    key = store.find_live_key(session, full_key, now=now)
    if key is None or key.owner_user_id is None:
        raise AuthenticationError(
            "API key is unknown, revoked or expired; create a new one with `meshclaw keys create`"
        )
    user = session.get(User, key.owner_user_id)
    if user is None or not user.active:
        raise AuthenticationError("the owner of this API key is deactivated")
    store.touch_key(session, key.id, now=now)
    return store.principal_for(session, user, key=key)


def _failures_since(session: Session, column: InstrumentedAttribute[str], value: str, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(LoginFailure).where(column == value, LoginFailure.at > since)
        )
        or 0
    )


def check_password_login(
    session: Session,
    *,
    org_id: int,
    email: str,
    password: str,
    client: str,
    limits: LoginLimits,
    now: datetime,
) -> User:
    """Verify a password sign-in, or raise. Failures are recorded; too many in the window give 429."""
    email_key = email.strip().lower()[:320]
    since = now - limits.window
    retry = int(limits.window.total_seconds())
    if _failures_since(session, LoginFailure.email, email_key, since) >= limits.max_failures:
        raise RateLimitedError(
            "too many failed sign-ins for this account; try again later", retry_after_s=retry
        )
    if _failures_since(session, LoginFailure.client, client, since) >= limits.max_failures * 4:
        raise RateLimitedError(
            "too many failed sign-ins from this address; try again later", retry_after_s=retry
        )
    user = store.user_by_email(session, org_id, email_key)
    if user is None or not user.active or not verify_password(user.password_hash if user else None, password):
        session.add(LoginFailure(email=email_key, client=client[:64], at=now))
        raise AuthenticationError("wrong email or password")
    session.execute(delete(LoginFailure).where(LoginFailure.email == email_key))
    return user


def start_session(
    session: Session, user: User, *, ttl: timedelta, now: datetime, user_agent: str | None
) -> NewSession:
    token, csrf = new_token(), new_token()
    row = WebSession(
        token_hash=digest(token),
        user_id=user.id,
        csrf_token=csrf,
        created_at=now,
        expires_at=now + ttl,
        user_agent=(user_agent or "")[:500],
    )
    session.add(row)
    # Opportunistic clean-up keeps the table small without a background job.
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(days=1)))
    session.flush()
    return NewSession(token=token, csrf_token=csrf, expires_at=row.expires_at, user=user)


def resolve_session(
    session: Session, token: str, *, ttl: timedelta, now: datetime
) -> tuple[Principal, WebSession]:
    """The principal behind a session cookie; slides the expiry forward on use."""
    row = session.scalars(select(WebSession).where(WebSession.token_hash == digest(token))).first()
    if row is None or row.expires_at <= now:
        raise AuthenticationError("your session has expired; sign in again")
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        raise AuthenticationError("this account is deactivated")
    # Only write when at least a minute has passed, so page views do not each cost a write.
    if row.expires_at - (now + ttl) < -timedelta(minutes=1):
        row.expires_at = now + ttl
    return store.principal_for(session, user), row


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))


def end_all_sessions(session: Session, user_id: int) -> None:
    session.execute(delete(WebSession).where(WebSession.user_id == user_id))
