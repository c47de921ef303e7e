"""Owns the tamper-evident audit log: one record per tool execution, tool denial, approval decision and
security-relevant admin action, hash-chained with an HMAC key kept outside the database.

- `record`: what a caller hands over (`AuditRecord`) and the event kinds.
- `chain`: `AuditLog.append` (serialized: one chain head, locked), checkpoints.
- `verify`: recompute the chain and name the first bad record.
- `keys`: the HMAC key (env `MESHCLAW_AUDIT_KEY` or a 0600 file in the data directory, never the DB).
- `redact`, `canonical`: what of the arguments is stored (redacted) and hashed (digest of the original).
- `store`: filtered, paginated reads and the export stream.

A hash chain alone only shows tampering by someone who cannot recompute it; a database administrator
could rewrite the whole chain. The HMAC key outside the database closes that, and checkpoints copied to a
file outside the database make deleting the newest records (truncation) detectable too.
"""
