"""Playbook tests run agents through the real server: the runs tests' app fixtures."""

from tests.runs.conftest import app_client, engine, runs_engine  # noqa: F401  (fixtures, found by name)
