"""Run tests use the real app with the real DBOS engine (a SQLite system database in the test's directory;
every test here gets it, the rest of the suite only when marked `runs_engine`) and the scripted agent of
`tests.runs.scripted`, so no model is called and every effect is countable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from meshclaw.config import Settings, load_settings
from meshclaw.context import AppContext
from meshclaw.runs.engine import RunEngine
from meshclaw.server.app import create_app

SCRIPTED = "tests.runs.scripted:build"


@pytest.fixture
def runs_engine() -> bool:
    return True


@pytest.fixture
def settings(tmp_path: Path, database_url: str, runs_engine: bool) -> Settings:
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_engine=runs_engine, runs_executor=SCRIPTED
    )


@pytest.fixture
def app_client(context: AppContext, org_id: int) -> Iterator[TestClient]:
    with TestClient(create_app(context)) as test_client:
        yield test_client


@pytest.fixture
def engine(app_client: TestClient) -> RunEngine:
    runs = app_client.app.state.runs  # type: ignore[attr-defined]
    assert isinstance(runs, RunEngine) and runs.live
    return runs
