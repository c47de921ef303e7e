"""Per-agent memory: items with provenance (run, source), origin (trusted or untrusted) and validity,
found by full-text search, with every recall logged for nightly dreaming.

- `store`: remember (identical active content is stored once), invalidate, confirm, list; the item shape.
- `search`: the full-text query on either database (FTS5 bm25 on SQLite, ts_rank on PostgreSQL), with
  the person's or model's text turned into plain search terms so no query syntax can reach the engine.
- `recall`: search plus the record of what was recalled (`memory_recalls`, `recall_count`).
- `snapshots`: every item of an agent at a moment, and restoring one after a bad consolidation.
- `dreaming`: one night's consolidation (score, merge near-duplicates, drop unconfirmed untrusted items
  within a bound, snapshot first); `dreams`: the `dreams` table and the dream diary.
- `tools`: `memory_remember_item` (write_internal) and `memory_recall_items` (read_private) for runs.

Nothing is hard-deleted here: invalidation sets `valid_to`, so history stays answerable.
"""
