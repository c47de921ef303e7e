"""Every table, one module per owning domain. Importing this package registers them all on
`Base.metadata`, which is what Alembic compares against."""

from __future__ import annotations

from meshclaw.db.models.agents import Agent, AgentVersion
from meshclaw.db.models.approvals import Approval
from meshclaw.db.models.audit import AuditCheckpoint, AuditEvent
from meshclaw.db.models.clarity import (
    ClarityDetectionRun,
    ClarityFlag,
    ClaritySettings,
    ClarityTeamSettings,
)
from meshclaw.db.models.connectors import ConnectorAccount, ConnectorEventKey
from meshclaw.db.models.identity import (
    ApiKey,
    LoginFailure,
    Organization,
    SetupToken,
    Team,
    User,
    WebSession,
)
from meshclaw.db.models.limits import Budget, BudgetAlert
from meshclaw.db.models.memory import Dream, MemoryItem, MemoryRecall, MemorySnapshot
from meshclaw.db.models.metering import (
    ActivityEventRow,
    ModelPrice,
    OutcomeEventRow,
    OutcomeRollup,
    Provider,
    UsageEventRow,
    UsageRollup,
)
from meshclaw.db.models.policy import EgressRule, PreApprovalRow, ToolClassification
from meshclaw.db.models.runs import Run, RunCheckpoint, RunStep, RunWebhook
from meshclaw.db.models.safety import KillSwitch, Notification
from meshclaw.db.models.vault import VaultSecret

__all__ = [  # noqa: RUF022  (grouped by module)
    "ConnectorAccount",
    "ConnectorEventKey",
    "ActivityEventRow",
    "ModelPrice",
    "OutcomeEventRow",
    "OutcomeRollup",
    "Provider",
    "UsageEventRow",
    "UsageRollup",
    "ApiKey",
    "LoginFailure",
    "Organization",
    "SetupToken",
    "Team",
    "User",
    "WebSession",
    "Budget",
    "BudgetAlert",
    "ClarityDetectionRun",
    "ClarityFlag",
    "ClaritySettings",
    "ClarityTeamSettings",
    "Run",
    "RunCheckpoint",
    "RunStep",
    "RunWebhook",
    "Agent",
    "AgentVersion",
    "Approval",
    "MemoryItem",
    "MemoryRecall",
    "MemorySnapshot",
    "Dream",
    "AuditEvent",
    "AuditCheckpoint",
    "VaultSecret",
    "EgressRule",
    "PreApprovalRow",
    "ToolClassification",
    "KillSwitch",
    "Notification",
]
