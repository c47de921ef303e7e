"""What one MeshClaw process holds: its settings, its database and its clock, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field

from meshclaw.clock import Clock, SystemClock
from meshclaw.config import Settings
from meshclaw.db.engine import Database


@dataclass(kw_only=True)
class AppContext:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock | None = None) -> AppContext:
        return cls(
            settings=settings, db=Database(settings.resolved_database_url), clock=clock or SystemClock()
        )
