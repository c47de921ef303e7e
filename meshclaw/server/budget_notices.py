"""A crossed soft budget becomes a notification to the people it concerns: the person for their own budget,
the owner of an API key or an agent, and a team's managers (members of the team with the manager role).

It is one of the limiter's alert sinks (`Limiter(alert_sinks=...)`), called once per stored alert on the
limiter's background thread. It lives here, where the app is wired, because it joins two core packages
(`limits`, `notifications`) that may not import each other.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.clock import Clock
from meshclaw.db.engine import Database
from meshclaw.db.models import Agent, ApiKey, User
from meshclaw.limits.alerts import SoftAlert
from meshclaw.limits.rules import Rule, describe, quantity
from meshclaw.notifications.store import notify

log = logging.getLogger("meshclaw.limits")


class NotifyingAlertSink:
    def __init__(self, db: Database, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    def deliver(self, alert: SoftAlert) -> None:
        rule = alert.rule
        limit = describe(rule.unit, rule.period, rule.amount, enforcement="soft")
        text = f"{rule.scope}: {limit} crossed (spent {quantity(rule.unit, alert.spent)} so far this period)"
        try:
            with self._db.session() as session:
                for org_id, user_id in _concerned(session, rule):
                    notify(session, org_id=org_id, user_id=user_id, kind="budget.soft_crossed", text=text,
                           link="/budgets", now=self._clock.now())  # fmt: skip
        except Exception:  # a sink must not raise: the alert is stored and logged regardless
            log.exception("could not notify about the soft budget %s", rule.id)


def _concerned(session: Session, rule: Rule) -> list[tuple[int, int]]:
    """(organization, user) of each person told about this budget."""
    query = select(User.org_id, User.id).where(User.active.is_(True))
    if rule.subject_type == "user":
        query = query.where(User.id == rule.subject_id)
    elif rule.subject_type == "api_key":
        query = query.where(
            User.id == select(ApiKey.owner_user_id).where(ApiKey.id == rule.subject_id).scalar_subquery()
        )
    elif rule.subject_type == "agent":
        query = query.where(
            User.id == select(Agent.owner_user_id).where(Agent.id == rule.subject_id).scalar_subquery()
        )
    else:
        query = query.where(User.team_id == rule.subject_id, User.role == "manager")
    return [(int(org_id), int(user_id)) for org_id, user_id in session.execute(query).all()]
