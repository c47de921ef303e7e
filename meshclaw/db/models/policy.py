"""The policy gate's tables: the egress allowlist, admins' pre-approvals per agent and their MCP tool classes.

Rows are never updated in place: an entry is added, or removed (kept with `removed_at`), so the audit log
and the table tell the same story of who allowed what when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from meshclaw.db.base import Base, UTCDateTime


class EgressRule(Base):
    """One allowed destination: a domain (and its subdomains) or a URL prefix."""

    __tablename__ = "egress_rules"
    __table_args__ = (Index("ix_egress_rules_org_active", "org_id", "removed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    """`domain` or `url_prefix`."""
    value: Mapped[str] = mapped_column(String(500))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_by_user_id: Mapped[int | None] = mapped_column(Integer)


class PreApprovalRow(Base):
    """A narrow pattern an admin approved in advance for one agent: a tool and fixed argument values."""

    __tablename__ = "preapprovals"
    __table_args__ = (Index("ix_preapprovals_agent_active", "agent_id", "removed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    tool: Mapped[str] = mapped_column(String(200))
    constraints: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_by_user_id: Mapped[int | None] = mapped_column(Integer)


class ToolClassification(Base):
    """An admin's effect class for one tool of one MCP server (keyed by the server's configuration)."""

    __tablename__ = "tool_classifications"
    __table_args__ = (Index("ix_tool_classifications_server", "org_id", "server_key", "removed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    server_key: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the server's command or URL and environment (`policy.classifications.server_key`)."""
    server_label: Mapped[str] = mapped_column(String(500))
    tool: Mapped[str] = mapped_column(String(200))
    """The tool's name as the server lists it (without the `<server>_` prefix a run adds)."""
    effect: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_by_user_id: Mapped[int | None] = mapped_column(Integer)
