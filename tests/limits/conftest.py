"""Fixtures for the budgets tests: people who can sign in to the pages."""

from __future__ import annotations

import pytest

from meshclaw.context import AppContext
from tests.conftest import People
from tests.web.conftest import WebPeople


@pytest.fixture
def web_people(context: AppContext, people: People) -> WebPeople:
    return WebPeople(context, people)
