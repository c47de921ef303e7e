"""Recompute the chain and say where it breaks: `verify(session, key=..., checkpoint_file=...)`.

What each kind of tampering looks like here:
- an edited record: its recomputed HMAC differs from its stored hash;
- a deleted record in the middle: a gap in `seq` (or, if renumbered, a `prev_hash` that does not match);
- reordered or swapped records: `prev_hash` no longer matches the previous record's hash;
- a deleted tail: a checkpoint (in the table or the file outside the database) names a later seq than
  the last record; the tail after the newest checkpoint cannot be proven, which is why checkpoints are
  written every N records and on demand;
- a rewritten chain or forged checkpoints: the HMACs fail without the key, which is not in the database.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.audit.chain import GENESIS, at_text, checkpoint_mac, read_checkpoint_file, record_hash
from meshclaw.db.models.audit import AuditCheckpoint, AuditEvent


@dataclass(frozen=True, kw_only=True)
class Verification:
    ok: bool
    records: int
    """Records checked before the first problem (all of them when ok)."""
    last_seq: int
    checkpoints: int
    """Checkpoints checked (table and file together, each seq once)."""
    first_bad_seq: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class _Checkpoint:
    seq: int
    hash: str
    at: str
    mac: str
    where: str


def _checkpoints(session: Session, checkpoint_file: Path | None) -> list[_Checkpoint]:
    found = [
        _Checkpoint(row.seq, row.hash, at_text(row.at), row.mac, "table")
        for row in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))
    ]
    if checkpoint_file is not None:
        found += [
            _Checkpoint(seq, head_hash, at, mac, f"file {checkpoint_file}")
            for seq, head_hash, at, mac in read_checkpoint_file(checkpoint_file)
        ]
    return found


def _fail(records: int, last_seq: int, checkpoints: int, seq: int, problem: str) -> Verification:
    return Verification(
        ok=False,
        records=records,
        last_seq=last_seq,
        checkpoints=checkpoints,
        first_bad_seq=seq,
        problem=problem,
    )


def verify(session: Session, *, key: bytes, checkpoint_file: Path | None, batch: int = 1000) -> Verification:
    checkpoints = _checkpoints(session, checkpoint_file)
    for cp in checkpoints:
        if cp.seq < 1:
            return _fail(0, 0, len(checkpoints), 0, f"the checkpoint {cp.where} has an unreadable line")
        if not hmac.compare_digest(cp.mac, checkpoint_mac(key, cp.seq, cp.hash, cp.at)):
            return _fail(
                0,
                0,
                len(checkpoints),
                cp.seq,
                f"the checkpoint at seq {cp.seq} ({cp.where}) has a bad MAC: the audit key differs from "
                "the one that wrote it, or the checkpoint was forged",
            )
    wanted: dict[int, list[_Checkpoint]] = {}
    for cp in checkpoints:
        wanted.setdefault(cp.seq, []).append(cp)

    expected, prev_hash, checked = 1, GENESIS, 0
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch))
    for row in rows:
        if row.seq != expected:
            missing = f"{expected}" if row.seq == expected + 1 else f"{expected} to {row.seq - 1}"
            why = (
                f"record(s) {missing} are missing (deleted)"
                if row.seq > expected
                else f"record {row.seq} appears out of order (expected {expected})"
            )
            return _fail(checked, expected - 1, len(checkpoints), expected, why)
        if not hmac.compare_digest(row.prev_hash, prev_hash):
            return _fail(
                checked,
                row.seq,
                len(checkpoints),
                row.seq,
                f"record {row.seq} does not follow record {row.seq - 1} (prev_hash differs): records "
                "were deleted, reordered or swapped",
            )
        if not hmac.compare_digest(row.hash, record_hash(key, prev_hash, row)):
            return _fail(
                checked,
                row.seq,
                len(checkpoints),
                row.seq,
                f"record {row.seq} does not match its hash: it was edited, or the audit key differs from "
                "the one that wrote it",
            )
        for cp in wanted.get(row.seq, ()):
            if not hmac.compare_digest(cp.hash, row.hash):
                return _fail(
                    checked,
                    row.seq,
                    len(checkpoints),
                    row.seq,
                    f"record {row.seq} differs from the checkpoint ({cp.where}) taken at {cp.at}: the chain "
                    "was rewritten from here",
                )
        prev_hash, expected, checked = row.hash, expected + 1, checked + 1

    last_seq = expected - 1
    beyond = [cp for cp in checkpoints if cp.seq > last_seq]
    if beyond:
        cp = max(beyond, key=lambda c: c.seq)
        return _fail(
            checked,
            last_seq,
            len(checkpoints),
            last_seq + 1,
            f"the log ends at seq {last_seq}, but the checkpoint ({cp.where}) taken at {cp.at} saw seq "
            f"{cp.seq}: records {last_seq + 1} to {cp.seq} (at least) were deleted (truncated)",
        )
    return Verification(
        ok=True, records=checked, last_seq=last_seq, checkpoints=len({cp.seq for cp in checkpoints})
    )
