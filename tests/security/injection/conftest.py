"""The native injection suite runs a compromised model through the real server (the runs tests' app
fixtures, with the runs engine) against the session's real servers: Dovecot and Postfix, the Slack
emulator, Radicale, and an HTTP receiver of its own for outbound requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from meshclaw.config import Settings, load_settings
from tests.runs.conftest import app_client, engine  # noqa: F401  (fixtures, found by name)
from tests.security.injection.world import Receiver, receiving
from tests.servers.calendar import radicale  # noqa: F401
from tests.servers.mail import mail_server  # noqa: F401
from tests.servers.slack import slack_emulator  # noqa: F401

EXECUTOR = "tests.security.injection.compromised:build"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=tmp_path, database_url=database_url, runs_engine=True, runs_executor=EXECUTOR
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as server:
        yield server
