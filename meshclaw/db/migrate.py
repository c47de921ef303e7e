"""Apply and inspect Alembic migrations from code (`meshclaw up` and `meshclaw doctor` use this).

Migrations live in `meshclaw/db/migrations/versions/`, are append-only, and are named `NNNN_what.py`.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from meshclaw.db.engine import Database

_SCRIPTS = Path(__file__).parent / "migrations"


def _config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["engine"] = db.engine
    return config


def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision; a no-op when it already is."""
    command.upgrade(_config(db), "head")


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    revision = ScriptDirectory.from_config(config).get_current_head()
    assert revision is not None
    return revision


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
