"""Owns the HTTP process: `create_app(context)` composes the API, web UI, gateway and ingest, and adds
what every request shares (body limits, metrics, error mapping, health endpoints)."""
