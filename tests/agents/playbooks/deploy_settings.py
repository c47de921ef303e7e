"""The `settings` fixture of the deployment playbooks' end-to-end tests: runs execute the playbooks'
scripted agents (`deploy_agents`). A test module imports it to replace the suite's default settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshclaw.config import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path, database_url=database_url,
                         runs_executor="tests.agents.playbooks.deploy_agents:build")  # fmt: skip
