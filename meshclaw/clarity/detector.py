"""`detect_flags(session, week_start)`: score one week of every person and agent for tokenmaxxing.

Skeleton: the signature and answer type are fixed (the organization simulator imports them); the
signals are being filled in.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from meshclaw.clarity.flags import Flag


def detect_flags(session: Session, week_start: date) -> list[Flag]:
    """Flags for the week containing `week_start`, most suspicious first. Reads only."""
    del session, week_start
    return []
