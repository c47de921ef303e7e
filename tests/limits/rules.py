"""Building limiter rules in tests without a database."""

from __future__ import annotations

from itertools import count

from meshclaw.limits.admission import Limiter, Snapshot
from meshclaw.limits.rules import Enforcement, Period, Rule, SubjectType, Unit

_ids = count(1)


def rule(
    unit: Unit,
    period: Period,
    amount: int,
    *,
    subject_type: SubjectType = "user",
    subject_id: int = 1,
    enforcement: Enforcement = "hard",
) -> Rule:
    return Rule(
        id=next(_ids),
        subject_type=subject_type,
        subject_id=subject_id,
        unit=unit,
        period=period,
        enforcement=enforcement,
        amount=amount,
        scope=f"{subject_type.replace('_', ' ')} {subject_id}",
    )


def limiter_with(*rules: Rule, now: object) -> Limiter:
    limiter = Limiter(alert_sinks=[])
    limiter.replace(Snapshot(rules=list(rules)), now=now)  # type: ignore[arg-type]
    return limiter
