"""Connector accounts and the event keys already acted on (see `meshclaw.accounts`).

An account's `config` holds no secret: every secret field is stored as `vault:NAME` and resolved from the
vault when a tool or an event source needs it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from meshclaw.db.base import Base, UTCDateTime


class ConnectorAccount(Base):
    """One mailbox, workspace, calendar or deployment target, owned by a person or by the organization."""

    __tablename__ = "connector_accounts"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_connector_accounts_org_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(64))
    """What grants and tool arguments call it (`work-mail`); unique in the organization."""
    connector: Mapped[str] = mapped_column(String(32))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    """The person whose account it is; None: the organization's (usable by any agent an admin grants it)."""
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(default=True)
    """Off: tools refuse it and its event sources stop, without forgetting the configuration."""
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConnectorEventKey(Base):
    """An event already turned into runs: a source that replays it after a reconnect starts nothing."""

    __tablename__ = "connector_event_keys"
    __table_args__ = (UniqueConstraint("account_id", "key", name="uq_connector_event_keys_account_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("connector_accounts.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
