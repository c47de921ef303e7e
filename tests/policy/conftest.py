"""Policy tests that run agents use the runs tests' app fixtures; page tests the web tests' people."""

from tests.runs.conftest import app_client, engine  # noqa: F401  (fixtures, found by name)
from tests.web.conftest import web_people  # noqa: F401
