"""`detect_flags(session, week_start)`: score one week of every person and agent for tokenmaxxing.

Measure (`features.collect`), compare with peers of the same kind (`signals.Peers`), fire the rules
(`signals.RULES`), score (`scoring.py`), drop what a reviewer already dismissed for that subject, and
explain. People and agents are scored separately: an agent is a machine, so its cadence is no signal,
and its peers are other agents.

Dismissal suppression: a subject's dismissed flag covers its pattern (the set of signal names); a new
flag whose signals are all within a dismissed pattern of the same subject is left out. A signal the
reviewer did not see makes the flag come back.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.clarity.config import DEFAULTS, ClarityConfig
from meshclaw.clarity.features import SubjectWeek, collect
from meshclaw.clarity.flags import FLAG_KINDS, Flag, Signal
from meshclaw.clarity.scoring import FLAG_THRESHOLD, score
from meshclaw.clarity.settings_store import load_config
from meshclaw.clarity.signals import RULES, Peers
from meshclaw.clarity.weeks import monday_of
from meshclaw.db.models import ClarityFlag, ClaritySettings
from meshclaw.metering.labels import agent_labels, group_labels


def subject_key(flag_kind: str, subject_id: int) -> str:
    return f"{flag_kind}:{subject_id}"


def dismissed_patterns(session: Session) -> dict[str, list[frozenset[str]]]:
    patterns: dict[str, list[frozenset[str]]] = {}
    for key, pattern in session.execute(
        select(ClarityFlag.subject_key, ClarityFlag.pattern).where(ClarityFlag.status == "dismissed")
    ):
        patterns.setdefault(key, []).append(frozenset(pattern.split(",")))
    return patterns


def _organization_config(session: Session) -> ClarityConfig:
    org_id = session.scalar(select(ClaritySettings.org_id).limit(1))
    return load_config(session, org_id) if org_id is not None else DEFAULTS


def _evidence(subject: SubjectWeek, week: date) -> tuple[str, ...]:
    window = f"since={week.isoformat()}&until={(week + timedelta(days=7)).isoformat()}"
    who = f"agent={subject.id}" if subject.kind == "agent" else f"user={subject.id}"
    return (f"/api/v1/usage?{who}&{window}", f"/api/v1/clarity/outcomes?{who}&{window}")


def _explanation(subject: SubjectWeek, signals: tuple[Signal, ...], total: float) -> str:
    parts = "; ".join(f"{signal.name}: {signal.description}" for signal in signals)
    return (
        f"score {total:g} from {len(signals)} signal{'s' if len(signals) > 1 else ''} against "
        f"{subject.kind} peers this week: {parts}. A reason to look, not a verdict."
    )


def detect_flags(session: Session, week_start: date, *, config: ClarityConfig | None = None) -> list[Flag]:
    """Flags for the week containing `week_start`, most suspicious first. Reads only.

    `config` defaults to the organization's saved settings (the weekly token target, if any).
    """
    week = monday_of(week_start)
    config = config or _organization_config(session)
    subjects = collect(session, week)
    suppressed = dismissed_patterns(session)
    found: list[tuple[SubjectWeek, float, tuple[Signal, ...]]] = []
    for kind in FLAG_KINDS:
        group = [subject for subject in subjects.values() if subject.kind == kind]
        peers = Peers.of(group)
        for subject in group:
            fired = tuple(signal for rule in RULES if (signal := rule(subject, peers, config)) is not None)
            if not fired:
                continue
            total = score(subject, peers, fired)
            if total < FLAG_THRESHOLD:
                continue
            names = {signal.name for signal in fired}
            if any(names <= pattern for pattern in suppressed.get(subject_key(kind, subject.id), [])):
                continue
            found.append((subject, total, fired))
    people = group_labels(
        session, "user", {subject.id for subject, _, _ in found if subject.kind == "person"}
    )
    agents = agent_labels(session, {subject.id for subject, _, _ in found if subject.kind == "agent"})
    flags = [
        Flag(
            week_start=week,
            kind=subject.kind,
            subject=people.get(subject.id, f"user {subject.id}")
            if subject.kind == "person"
            else agents[subject.id],
            user_id=subject.user_id,
            agent_id=subject.id if subject.kind == "agent" else None,
            score=total,
            signals=fired,
            explanation=_explanation(subject, fired, total),
            evidence=_evidence(subject, week),
        )
        for subject, total, fired in found
    ]
    flags.sort(key=lambda flag: (-flag.score, flag.kind, flag.subject))
    return flags
