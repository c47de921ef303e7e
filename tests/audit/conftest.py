"""An audit log on the test's database, keyed by a file in the test's data directory."""

from __future__ import annotations

from datetime import timedelta

import pytest

from meshclaw.audit.chain import AuditLog
from meshclaw.audit.record import AuditRecord
from meshclaw.context import AppContext
from tests.web.conftest import web_people  # noqa: F401  (the audit page's tests sign people in)


@pytest.fixture
def audit(context: AppContext) -> AuditLog:
    return AuditLog.for_data_dir(context.settings.data_dir, checkpoint_every=5)


def append_many(context: AppContext, audit: AuditLog, count: int) -> None:
    start = context.clock.now()
    for n in range(count):
        with context.db.session() as session:
            audit.append(
                session,
                AuditRecord(
                    kind="tool.executed",
                    actor_agent_id=7,
                    on_behalf_of_user_id=3,
                    invoked_by="trigger:1",
                    tool="email_send_message",
                    effect_class="communicate_external",
                    arguments={"to": f"person{n}@example.org", "subject": f"hello {n}"},
                    decision="allow",
                    rule="attended-allow",
                    outcome="ok",
                    external_ids={"message_id": f"<m{n}@example.org>"},
                    run_id=f"run-{n}",
                ),
                now=start + timedelta(seconds=n),
            )
