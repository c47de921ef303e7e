"""The audit log takes only the kinds it knows (`ADMIN_KINDS`, `TOOL_KINDS`), so a misspelt kind fails
where it is written, and every `admin.*` kind the code writes is one of them and named in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from meshclaw.audit.chain import AuditLog
from meshclaw.audit.record import ADMIN_KINDS, AuditRecord
from meshclaw.context import AppContext
from meshclaw.errors import InvalidInputError

PACKAGE = Path(__file__).resolve().parents[2] / "meshclaw"
README = PACKAGE.parent / "README.md"


def test_an_unknown_kind_is_refused_and_nothing_is_appended(context: AppContext, audit: AuditLog) -> None:
    with context.db.session() as session:
        with pytest.raises(InvalidInputError, match=re.escape("unknown audit event kind 'admin.key_creatd'")):
            audit.append(session, AuditRecord(kind="admin.key_creatd"), now=context.clock.now())
        assert audit.append(session, AuditRecord(kind="admin.key_created"), now=context.clock.now()).seq == 1


def test_every_admin_kind_written_in_the_code_is_known_and_documented() -> None:
    written = {
        kind
        for path in PACKAGE.rglob("*.py")
        if path != PACKAGE / "audit" / "record.py"  # the list itself
        for kind in re.findall(r'"(admin\.[a-z_]+)"', path.read_text())
    }
    assert len(written) > 30
    assert written - ADMIN_KINDS == set()
    assert ADMIN_KINDS - written == set(), "listed but never written"
    readme = README.read_text()
    assert [kind for kind in sorted(ADMIN_KINDS) if f"`{kind}`" not in readme] == []
