"""A live MeshClaw server (uvicorn in a thread) with providers pointing at the stub upstream, and people
with gateway keys: the official openai and anthropic SDKs are pointed at it unchanged."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select

from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.db.models.metering import UsageEventRow
from meshclaw.identity import store
from meshclaw.providers.registry import add_provider
from meshclaw.server.app import create_app
from tests.conftest import People, Person, free_port
from tests.stub_upstream import RunningStub, stub_in_thread

PROVIDER_KEY = "sk-provider-secret-for-tests-0123456789"
PROVIDER_KEY_ENV = "MESHCLAW_TEST_STUB_KEY"
OPENAI_MODELS = [
    "stub-small",
    "stub-embed",
    "stub-small-cached-3-reasoning-2",
    "stub-small-error-500",
    "stub-small-error-429",
    "stub-small-delay-3000",
    "stub-small-chunkdelay-200-out-50",
    "stub-small-cut-3",
]
ANTHROPIC_MODELS = ["stub-large", "stub-large-cached-2-cachewrite-1", "stub-large-error-529"]


@dataclass
class Gateway:
    url: str
    context: AppContext
    app: FastAPI
    stub: RunningStub
    person: Person
    people: People

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def usage(self, *, at_least: int = 0) -> list[UsageEventRow]:
        """Every usage row, oldest first, once the recorder committed what was recorded so far (waiting up
        to 5 s for `at_least` rows: a call that ends with the client gone is recorded after the test
        moved on)."""
        deadline = time.monotonic() + 5
        while True:
            self.app.state.recorder.flush()
            with self.context.db.session() as session:
                rows = list(session.scalars(select(UsageEventRow).order_by(UsageEventRow.id)).all())
                session.expunge_all()
            if len(rows) >= at_least or time.monotonic() > deadline:
                return rows
            time.sleep(0.05)


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    return {"gateway_timeout_s": 1.0}


@pytest.fixture
def gateway(
    tmp_path: Path,
    database_url: str,
    gateway_settings: dict[str, Any],
    runs_engine: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Gateway]:
    monkeypatch.setenv(PROVIDER_KEY_ENV, PROVIDER_KEY)
    port = free_port()
    settings = load_settings(
        data_dir=tmp_path,
        database_url=database_url,
        port=port,
        **{"runs_engine": runs_engine, **gateway_settings},
    )
    context = AppContext.from_settings(settings)
    with stub_in_thread() as stub:
        with context.db.session() as session:
            org, _ = store.ensure_org(session, name="Test Org", now=context.clock.now())
            add_provider(session, name="stub", kind="openai", base_url=stub.url, api_key_env=PROVIDER_KEY_ENV,
                         models=OPENAI_MODELS, now=context.clock.now())  # fmt: skip
            add_provider(session, name="stub-anthropic", kind="anthropic", base_url=stub.url.removesuffix("/v1"),
                         api_key_env=PROVIDER_KEY_ENV, models=ANTHROPIC_MODELS, now=context.clock.now())  # fmt: skip
        people = People(context, org.id)
        team = people.team("Platform")
        person = people.add(team_id=team, email="ada@example.org", scopes=["gateway"])
        app = create_app(context)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the gateway server did not start")
            time.sleep(0.02)
        try:
            yield Gateway(url=url, context=context, app=app, stub=stub, person=person, people=people)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            context.db.dispose()


def post(gateway: Gateway, path: str, body: bytes | dict[str, Any], *, key: str | None = None,
         headers: dict[str, str] | None = None) -> httpx.Response:  # fmt: skip
    """A raw request, for what the SDKs cannot send (malformed JSON, oversized bodies, no key)."""
    sent = {"content-type": "application/json", **(headers or {})}
    if key is not None:
        sent["authorization"] = f"Bearer {key}"
    if isinstance(body, dict):
        return httpx.post(f"{gateway.url}{path}", json=body, headers=sent, timeout=10)
    return httpx.post(f"{gateway.url}{path}", content=body, headers=sent, timeout=10)
