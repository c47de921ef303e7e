"""Appending to the chain: `AuditLog.append` and checkpoints.

hash(n) = HMAC-SHA256(key, hash(n-1) || canonical(record n)), starting from 64 zeros. The record that is
hashed is every stored column except the two hashes, with `at` as an ISO string, so `verify` can rebuild
it from the row alone.

Appends are serialized on the chain head: two writers that both read head n would both write n+1 and fork
the chain. On PostgreSQL a transaction-scoped advisory lock is taken before the head is read, so writers in
different processes queue; it is released by the caller's commit or rollback. On SQLite a no-op UPDATE
takes the database's single write lock first (a plain SELECT would read a snapshot another writer could
overtake before our INSERT), which serializes writers across processes the same way.
The append joins the caller's transaction: an admin action and its audit record commit or vanish together.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from meshclaw.audit.canonical import canonical_json, digest
from meshclaw.audit.keys import load_audit_key
from meshclaw.audit.record import AuditRecord, check_kind
from meshclaw.audit.redact import redact
from meshclaw.db.models.audit import AuditCheckpoint, AuditEvent

GENESIS = "0" * 64
CHECKPOINT_FILE = "audit-checkpoints.jsonl"
DEFAULT_CHECKPOINT_EVERY = 256
# Any fixed 64-bit number: the advisory lock that guards the chain head on PostgreSQL.
_PG_LOCK_ID = 0x6D657368_61756474  # "meshaudt"

log = logging.getLogger(__name__)


def at_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def hashed_fields(row: AuditEvent) -> dict[str, object]:
    """The record as it is hashed: every column but `prev_hash` and `hash`."""
    return {
        "seq": row.seq,
        "at": at_text(row.at),
        "kind": row.kind,
        "actor_agent_id": row.actor_agent_id,
        "on_behalf_of_user_id": row.on_behalf_of_user_id,
        "invoked_by": row.invoked_by,
        "target": row.target,
        "tool": row.tool,
        "effect_class": row.effect_class,
        "args_digest": row.args_digest,
        "args_redacted": row.args_redacted,
        "taint_sources": row.taint_sources,
        "decision": row.decision,
        "rule": row.rule,
        "approval_id": row.approval_id,
        "approver_user_id": row.approver_user_id,
        "outcome": row.outcome,
        "external_ids": row.external_ids,
        "run_id": row.run_id,
    }


def record_hash(key: bytes, prev_hash: str, row: AuditEvent) -> str:
    message = prev_hash.encode() + canonical_json(hashed_fields(row)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def checkpoint_mac(key: bytes, seq: int, head_hash: str, at: str) -> str:
    """MAC over a checkpoint; `at` is the ISO text (`at_text`), as stored in the file."""
    message = f"checkpoint|{seq}|{head_hash}|{at}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def lock_head(session: Session) -> None:
    """Make this transaction the only one that may append until it ends (see the module docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
    else:
        session.execute(text("UPDATE audit_checkpoints SET seq = seq WHERE seq < 0"))


def head(session: Session) -> tuple[int, str]:
    """(seq, hash) of the newest record, or (0, GENESIS) for an empty log."""
    row = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else (0, GENESIS)


@dataclass(kw_only=True)
class AuditLog:
    """Appends records and checkpoints. Cheap to build; build one per use from the settings."""

    key: bytes = field(repr=False)
    checkpoint_file: Path | None
    """Where checkpoints are copied outside the database; None keeps them in the table only."""
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    secret_fields: frozenset[str] = frozenset()
    """Argument names to redact on top of the built-in secret-looking ones."""

    @classmethod
    def for_data_dir(
        cls,
        data_dir: Path,
        *,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        secret_fields: frozenset[str] = frozenset(),
    ) -> AuditLog:
        return cls(
            key=load_audit_key(data_dir).key,
            checkpoint_file=data_dir / CHECKPOINT_FILE,
            checkpoint_every=checkpoint_every,
            secret_fields=secret_fields,
        )

    def append(self, session: Session, record: AuditRecord, *, now: datetime) -> AuditEvent:
        """Add `record` at the head of the chain, inside the caller's transaction."""
        return self.append_many(session, [(record, now)])[0]

    def append_many(
        self, session: Session, records: Sequence[tuple[AuditRecord, datetime]]
    ) -> list[AuditEvent]:
        """Add `records` at the head of the chain in order, each at its own time, inside the caller's
        transaction: the same rows and hashes as appending them one by one, with one lock, one read of
        the head and one flush (a run's batch of tool calls is audited as it is recorded)."""
        if not records:
            return []
        rows = [self._row(record, now) for record, now in records]
        lock_head(session)
        last_seq, last_hash = head(session)
        for row in rows:
            row.seq = last_seq = last_seq + 1
            row.prev_hash = last_hash
            row.hash = last_hash = record_hash(self.key, last_hash, row)
        session.add_all(rows)
        session.flush()
        if self.checkpoint_every > 0:
            for row in rows:
                if row.seq % self.checkpoint_every == 0:
                    self._write_checkpoint(session, row.seq, row.hash, row.at)
        return rows

    def checkpoint(self, session: Session, *, now: datetime) -> AuditCheckpoint | None:
        """Record the current head as a checkpoint (on demand); None for an empty log."""
        lock_head(session)
        seq, head_hash = head(session)
        if seq == 0:
            return None
        existing = session.get(AuditCheckpoint, seq)
        if existing is not None:
            return existing
        return self._write_checkpoint(session, seq, head_hash, now)

    def _row(self, record: AuditRecord, now: datetime) -> AuditEvent:
        arguments: dict[str, Any] | None = dict(record.arguments) if record.arguments is not None else None
        redacted = (
            redact(arguments, secret_fields=self.secret_fields, secret_values=record.secret_values)
            if arguments is not None
            else None
        )
        return AuditEvent(
            at=now,
            kind=check_kind(record.kind),
            actor_agent_id=record.actor_agent_id,
            on_behalf_of_user_id=record.on_behalf_of_user_id,
            invoked_by=record.invoked_by,
            target=record.target,
            tool=record.tool,
            effect_class=record.effect_class,
            args_digest=digest(arguments) if arguments is not None else None,
            args_redacted=canonical_json(redacted) if redacted is not None else None,
            taint_sources=canonical_json(sorted(record.taint_sources)) if record.taint_sources else None,
            decision=record.decision,
            rule=record.rule,
            approval_id=record.approval_id,
            approver_user_id=record.approver_user_id,
            outcome=record.outcome,
            external_ids=canonical_json(dict(record.external_ids)) if record.external_ids else None,
            run_id=record.run_id,
        )

    def _write_checkpoint(self, session: Session, seq: int, head_hash: str, now: datetime) -> AuditCheckpoint:
        checkpoint = AuditCheckpoint(
            seq=seq, hash=head_hash, at=now, mac=checkpoint_mac(self.key, seq, head_hash, at_text(now))
        )
        session.add(checkpoint)
        session.flush()
        if self.checkpoint_file is not None:
            line = json.dumps({"seq": seq, "hash": head_hash, "at": at_text(now), "mac": checkpoint.mac})
            path = self.checkpoint_file

            # Only once the records it vouches for are committed: a checkpoint of a rolled-back
            # transaction would later look like truncation.
            def copy_out(_session: Session) -> None:
                append_checkpoint_line(path, line)

            event.listen(session, "after_commit", copy_out, once=True)
        return checkpoint


def append_checkpoint_line(path: Path, line: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        # The records are committed and the table holds the checkpoint; the file copy is extra evidence.
        log.error("could not copy an audit checkpoint to %s: %s", path, exc)


def read_checkpoint_file(path: Path) -> list[tuple[int, str, str, str]]:
    """(seq, hash, at, mac) per line; a line that is not a checkpoint is returned with seq -1."""
    if not path.exists():
        return []
    out: list[tuple[int, str, str, str]] = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            out.append((int(data["seq"]), str(data["hash"]), str(data["at"]), str(data["mac"])))
        except (ValueError, KeyError, TypeError):
            out.append((-1, "", "", ""))
    return out
