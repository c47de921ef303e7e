"""Soft-budget alerts: what one is, and where it goes once it is stored.

Crossing a soft budget is noticed in memory by `Ticket.settle` (or when a reload finds the spend already
past it); the limiter's background thread stores it in `budget_alerts` (once per budget and period,
enforced by a unique key, so several processes and restarts never alert twice) and only then hands it to
every `AlertSink`, as datasette dispatches events after the write commits. The default sink writes a log
line; chat and email delivery plug in later as more sinks (`Limiter(alert_sinks=[...])`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from meshclaw.limits.rules import Rule, describe, quantity

log = logging.getLogger("meshclaw.limits")


@dataclass(frozen=True, slots=True, kw_only=True)
class SoftAlert:
    rule: Rule
    period_start: datetime
    spent: int
    """Spend in the period when the crossing was noticed (micro-USD or tokens)."""
    noticed_at: datetime


class AlertSink(Protocol):
    def deliver(self, alert: SoftAlert) -> None:
        """Called once per stored alert, on the limiter's background thread; must not raise."""


class LogAlertSink:
    """Writes one warning per alert: whose budget, which, and how much was spent; never a key or secret
    (the scope names an API key by its label, not its value)."""

    def deliver(self, alert: SoftAlert) -> None:
        rule = alert.rule
        log.warning(
            "%s: %s crossed (spent %s in the period from %s)",
            rule.scope,
            describe(rule.unit, rule.period, rule.amount, enforcement="soft"),
            quantity(rule.unit, alert.spent),
            alert.period_start.strftime("%Y-%m-%d"),
            extra={"budget_id": rule.id, "subject_type": rule.subject_type, "subject_id": rule.subject_id},
        )
