"""Fixtures shared by the whole suite: settings on a temporary data directory, a migrated database,
the app, and people with API keys to act as."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.identity import store
from meshclaw.identity.principal import Role
from meshclaw.server.app import create_app

# tests.template_db provides `database_url`: a copy of a database migrated once per session.
pytest_plugins = ["tests.postgres", "tests.template_db"]


QUEUE_POLL_SECONDS = "0.1"


def pytest_configure(config: pytest.Config) -> None:
    """Every runs engine the suite starts looks for queued runs every 0.1 s instead of the product's 0.5 s.

    Set in the environment, so it reaches every place a test builds settings in-process (fixtures, servers in
    a thread; the CLI runs and `meshclaw up` subprocesses clear MESHCLAW_* and keep the product's value),
    and a developer's own value wins. At 0.5 s a started run waited 0.25 s on average before it began, in
    every test that starts runs. The product keeps 0.5 s for its idle CPU (see
    `Settings.runs_queue_poll_seconds`); a test's engine lives for seconds.
    """
    os.environ.setdefault("MESHCLAW_RUNS_QUEUE_POLL_SECONDS", QUEUE_POLL_SECONDS)


@pytest.fixture(autouse=True)
def _no_handlers_on_closed_streams() -> None:
    """Drop log handlers left writing to a stream that has since closed.

    A library that configures logging while a test runs it in-process binds a handler to that test's
    captured stderr (or to an in-process CLI run's); once the capture closes, every later record through
    that handler prints "--- Logging error ---" with a traceback into whatever stderr is current, which
    the CLI tests rightly count as a crash. The fresh-clone suite hit this; each test starts clean of them.
    """
    loggers = [logging.getLogger()]
    loggers += [
        item for item in logging.Logger.manager.loggerDict.values() if isinstance(item, logging.Logger)
    ]
    for logger in loggers:
        for handler in list(logger.handlers):
            stream = getattr(handler, "stream", None)
            if stream is not None and getattr(stream, "closed", False):
                logger.removeHandler(handler)


@pytest.fixture
def runs_engine(request: pytest.FixtureRequest) -> bool:
    """Whether the apps the fixtures build (`client`, `live_server`, the gateway's and ingest's servers)
    start the runs engine (DBOS): only for tests marked `runs_engine` (or a conftest that overrides this).

    Launching DBOS costs 0.1-0.5 s per app, and most tests that build the app never start a run. A test
    that starts one on an app without the engine gets "runs_engine is off" (503), so a missing mark fails
    loudly rather than testing less.
    """
    return request.node.get_closest_marker("runs_engine") is not None


@pytest.fixture
def settings(tmp_path: Path, database_url: str, runs_engine: bool) -> Settings:
    return load_settings(data_dir=tmp_path, database_url=database_url, runs_engine=runs_engine)


@pytest.fixture
def context(settings: Settings) -> Iterator[AppContext]:
    context = AppContext.from_settings(settings)  # `database_url` is migrated already (tests/template_db.py)
    yield context
    context.db.dispose()


@pytest.fixture
def org_id(context: AppContext) -> int:
    with context.db.session() as session:
        org, _ = store.ensure_org(session, name="Test Org", now=context.clock.now())
        return org.id


@pytest.fixture
def client(context: AppContext, org_id: int) -> Iterator[TestClient]:
    with TestClient(create_app(context)) as test_client:
        yield test_client


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    role: Role
    team_id: int | None
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


class People:
    """Creates people with an API key each, directly in the database."""

    def __init__(self, context: AppContext, org_id: int) -> None:
        self.context = context
        self.org_id = org_id
        self._count = 0

    def add(
        self,
        role: Role = Role.MEMBER,
        *,
        team_id: int | None = None,
        manager_id: int | None = None,
        email: str | None = None,
        scopes: list[str] | None = None,
    ) -> Person:
        self._count += 1
        email = email or f"{role.value}{self._count}@example.org"
        now = self.context.clock.now()
        with self.context.db.session() as session:
            user = store.create_user(
                session,
                org_id=self.org_id,
                email=email,
                role=role,
                team_id=team_id,
                manager_id=manager_id,
                now=now,
            )
            _, secret = store.create_key(
                session, org_id=self.org_id, owner_user_id=user.id, name="test", scopes=scopes, now=now
            )
            return Person(id=user.id, email=user.email, role=role, team_id=team_id, key=secret)

    def team(self, name: str, *, parent_id: int | None = None) -> int:
        with self.context.db.session() as session:
            return store.create_team(
                session, org_id=self.org_id, name=name, parent_id=parent_id, now=self.context.clock.now()
            ).id


@pytest.fixture
def people(context: AppContext, org_id: int) -> People:
    return People(context, org_id)


# --- a real HTTP server and a real browser ------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_answers(
    url: str, *, within_s: float, what: str, alive: Callable[[], bool] = lambda: True, pause_s: float = 0.05
) -> None:
    """Wait until a GET of `url` answers 200, asking through one client; RuntimeError naming `what` if it
    does not within `within_s`, or as soon as `alive()` says the server is gone.

    One client for the whole wait, not `httpx.get` per attempt: each `httpx.get` builds a client and its
    TLS context (loads the CA bundle), ~55 ms of CPU on a quiet machine, so a wait polling every 0.05 s
    kept half a core busy, and when the server starts in a thread of the test process it held the GIL
    the start-up needed.
    """
    import time

    import httpx

    deadline = time.monotonic() + within_s
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            if not alive():
                raise RuntimeError(f"{what} exited before it answered {url}")
            try:
                if http.get(url).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(pause_s)
    raise RuntimeError(f"{what} did not answer {url} within {within_s:g} s")


@dataclass(frozen=True)
class LiveServer:
    url: str
    context: AppContext


@pytest.fixture
def live_server_settings() -> dict[str, Any]:
    """Extra settings for `live_server`; override this fixture in a test module or conftest to add some."""
    return {}


@pytest.fixture
def live_server(
    tmp_path: Path, database_url: str, live_server_settings: dict[str, Any], runs_engine: bool
) -> Iterator[LiveServer]:
    """The real app under uvicorn on a free loopback port, in a thread of the test process."""
    import threading

    import uvicorn

    port = free_port()
    settings = load_settings(
        data_dir=tmp_path,
        database_url=database_url,
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        **{"runs_engine": runs_engine, **live_server_settings},
    )
    context = AppContext.from_settings(settings)
    with context.db.session() as session:
        store.ensure_org(session, name="Test Org", now=context.clock.now())
    server = uvicorn.Server(
        uvicorn.Config(create_app(context), host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    # Start-up (the runs engine's DBOS launch included) takes seconds, many more on a loaded machine.
    wait_until_answers(f"{url}/healthz", within_s=60, what="the live server")
    yield LiveServer(url=url, context=context)
    server.should_exit = True
    thread.join(timeout=10)
    context.db.dispose()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (Playwright's own browser download cannot work here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
