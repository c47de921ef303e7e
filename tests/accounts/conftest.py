"""Account tests run agents through the real server (the runs tests' app fixtures) and reach real chat
servers (the Slack emulator)."""

from tests.runs.conftest import app_client, engine, runs_engine  # noqa: F401  (fixtures, found by name)
from tests.servers.matrix import synapse  # noqa: F401
from tests.servers.slack import slack_emulator  # noqa: F401
