"""Agents' inbound webhooks: one secret token per agent, in the URL `/api/v1/hooks/{agent_id}/{token}`.

Only the token's SHA-256 is stored, and the check compares digests in constant time, so neither the
database nor response timing gives the token away. Creating a token replaces the previous one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from meshclaw.db.models import RunWebhook


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, agent_id: int, *, now: datetime) -> str:
    """A new token for the agent (the old one stops working). Returned once; store it now."""
    token = secrets.token_urlsafe(32)
    row = session.get(RunWebhook, agent_id)
    if row is None:
        session.add(RunWebhook(agent_id=agent_id, token_hash=_digest(token), created_at=now))
    else:
        row.token_hash = _digest(token)
        row.created_at = now
    return token


def token_matches(session: Session, agent_id: int, token: str) -> bool:
    row = session.get(RunWebhook, agent_id)
    # Compare against a digest even when the agent has none, so "no such hook" takes as long as "wrong".
    expected = row.token_hash if row is not None else _digest(secrets.token_urlsafe(32))
    return hmac.compare_digest(expected.encode(), _digest(token).encode()) and row is not None
