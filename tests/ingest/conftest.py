"""A live MeshClaw server whose app (and so its recorder) the tests can reach, and readers of the
metering tables. `flush()` waits until everything the server recorded is committed, so a test asserts
on rows without sleeping."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.models import ActivityEventRow, OutcomeEventRow, UsageEventRow
from meshclaw.identity import store
from meshclaw.server.app import create_app
from tests.conftest import free_port, wait_until_answers


@dataclass
class OtlpServer:
    url: str
    context: AppContext
    app: FastAPI

    def flush(self) -> None:
        self.app.state.recorder.flush(timeout=20)

    def usage(self) -> list[UsageEventRow]:
        self.flush()
        with self.context.db.session() as session:
            return list(session.scalars(select(UsageEventRow).order_by(UsageEventRow.id)))

    def outcomes(self) -> list[OutcomeEventRow]:
        self.flush()
        with self.context.db.session() as session:
            return list(session.scalars(select(OutcomeEventRow).order_by(OutcomeEventRow.id)))

    def activities(self) -> list[ActivityEventRow]:
        self.flush()
        with self.context.db.session() as session:
            return list(session.scalars(select(ActivityEventRow).order_by(ActivityEventRow.id)))


@pytest.fixture
def server_settings() -> dict[str, Any]:
    return {}


@contextmanager
def running_server(
    tmp_path: Path, database_url: str, *, runs_engine: bool = False, **more: Any
) -> Iterator[OtlpServer]:
    """A MeshClaw server on a free port, on an already migrated database; a second one on the same
    database acts as a restart."""
    port = free_port()
    settings = load_settings(
        data_dir=tmp_path, database_url=database_url, port=port, runs_engine=runs_engine, **more
    )
    context = AppContext.from_settings(settings)
    with context.db.session() as session:
        store.ensure_org(session, name="Test Org", now=context.clock.now())
    app = create_app(context)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    # Start-up (the runs engine's DBOS launch included) takes seconds, many more on a loaded machine.
    wait_until_answers(f"{url}/healthz", within_s=60, what="the server")
    try:
        yield OtlpServer(url=url, context=context, app=app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        context.db.dispose()


@pytest.fixture
def otlp_server(
    tmp_path: Path, database_url: str, server_settings: dict[str, Any], runs_engine: bool
) -> Iterator[OtlpServer]:
    with running_server(tmp_path, database_url, runs_engine=runs_engine, **server_settings) as server:
        yield server
