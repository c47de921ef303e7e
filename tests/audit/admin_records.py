"""Reading the audit log back in tests of what admin changes record: the records as the API and the export
show them, whether the chain still verifies, and a person's API key id (what `invoked_by` names)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from meshclaw.api.audit_trail import audit_log
from meshclaw.audit.store import event_dict
from meshclaw.audit.verify import verify
from meshclaw.context import AppContext
from meshclaw.db.models import ApiKey
from meshclaw.db.models.audit import AuditEvent
from tests.conftest import Person


def records(context: AppContext, *prefixes: str) -> list[dict[str, Any]]:
    """Every record, oldest first, or those whose kind starts with one of `prefixes`."""
    with context.db.session() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        return [event_dict(row) for row in rows if not prefixes or row.kind.startswith(prefixes)]


def chain_verifies(context: AppContext) -> bool:
    log = audit_log(context)
    with context.db.session() as session:
        return verify(session, key=log.key, checkpoint_file=log.checkpoint_file).ok


def key_id(context: AppContext, person: Person) -> int:
    """The id of the person's one API key."""
    with context.db.session() as session:
        return session.scalars(select(ApiKey.id).where(ApiKey.owner_user_id == person.id)).one()
