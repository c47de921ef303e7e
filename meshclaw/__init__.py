"""MeshClaw: a self-hosted platform for AI agents at work.

Layers, from the bottom up (imports point downward only; `.importlinter` enforces it):

- foundation: `config`, `clock`, `errors`, `logs`, `db`
- edges: `connectors`, `providers`
- core: `identity`, `vault`, `audit`, `metering`, `policy`
- services: `runs`, `agents`, `clarity`
- interfaces: `api`, `web`, `gateway`, `ingest`, then `server` (composes them) and `cli`

docs/ARCHITECTURE.md keeps the one-line ownership table for every package.
"""

from __future__ import annotations

__version__ = "0.1.0"
