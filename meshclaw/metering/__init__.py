"""Owns what AI use costs and what it achieved: usage events (one per model call, from any source),
outcome events (what was accomplished), activity events (session telemetry kept for analysis), the
versioned price table, hourly and daily rollups, and the one recording path: `Recorder.record_usage`.

Everything that learns of a model call (the gateway, MeshClaw's own agents, OTLP ingest, file imports)
builds a `UsageEvent` and hands it to the recorder; nothing else writes usage.
"""
