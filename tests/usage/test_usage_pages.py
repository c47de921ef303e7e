"""The "My usage" page and the prices page, through the real app (TestClient), signed in by the form."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from meshclaw.context import AppContext
from meshclaw.db.models import ModelPrice, UsageEventRow
from meshclaw.identity.principal import Role
from meshclaw.metering.events import TokenBuckets, UsageEvent
from meshclaw.metering.prices import add_price
from meshclaw.metering.recorder import Recorder
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS
from tests.web.conftest import WebPeople, WebPerson, csrf_field, signed_in

HTMX = {"HX-Request": "true"}


@dataclass
class Site:
    client: TestClient
    context: AppContext
    member: WebPerson
    other: WebPerson
    admin: WebPerson

    @property
    def recorder(self) -> Recorder:
        recorder = self.client.app.state.recorder  # type: ignore[attr-defined]
        assert isinstance(recorder, Recorder)
        return recorder

    def record(
        self,
        person: WebPerson,
        days_ago: int,
        model: str,
        client: str | None,
        *,
        seconds_ago: int = 1,
        **tokens: int,
    ) -> None:
        started = self.context.clock.now() - timedelta(days=days_ago, seconds=seconds_ago)
        self.recorder.record_usage(
            UsageEvent(
                source="otlp" if client == "claude-code" else "gateway",
                started_at=started,
                ended_at=started + timedelta(milliseconds=100),
                model=model,
                tokens=TokenBuckets(**tokens),
                user_id=person.id,
                client=client,
            )
        )


@pytest.fixture
def site(client: TestClient, context: AppContext, people: People) -> Site:
    web = WebPeople(context, people)
    site = Site(client, context, web.add(Role.MEMBER), web.add(Role.MEMBER), web.add(Role.ADMIN))
    with context.db.session() as session:
        for model, cost_in, cost_out in (("gpt-4o", 2.5, 10.0), ("claude-sonnet-4", 3.0, 15.0)):
            add_price(
                session,
                model=model,
                input_uncached=cost_in,
                output=cost_out,
                effective_from=context.clock.now() - timedelta(days=400),
                created_by_user_id=None,
                now=context.clock.now(),
            )
    site.recorder.prices_changed()
    site.record(site.member, 0, "gpt-4o", "curl/8", input_uncached=1000, output=500)  # $0.0075
    site.record(site.member, 3, "claude-sonnet-4", "claude-code", input_uncached=2000, output=1000)  # $0.021
    site.record(site.member, 40, "gpt-4o", "curl/8", input_uncached=1_000_000)  # outside the 30 days
    site.record(site.other, 0, "gpt-4o", "python-openai", input_uncached=777_777)
    site.recorder.flush()
    return site


def text_of(html: str) -> str:
    """The page's visible text with whitespace collapsed, for asserting on phrases."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@BOTH_BACKENDS
def test_my_usage_shows_my_last_30_days_only(site: Site) -> None:
    signed_in(site.client, site.member)
    page = site.client.get("/usage")
    assert page.status_code == 200
    html, text = page.text, text_of(page.text)
    assert '<a href="/usage" aria-current="page">My usage</a>' in html
    # Totals: two calls in the window (the one 40 days ago is not), 4,500 tokens, $0.0285.
    assert "Requests 2 none failed" in text
    assert "4,500 in all buckets" in text
    assert "$0.0285" in text
    assert "Active days 2" in text
    # Breakdowns by model, app and source, with the share of the cost.
    assert re.search(r"claude-sonnet-4 1 3.0k \$0.0210 74%", text), text
    assert re.search(r"gpt-4o 1 1.5k \$0.0075 26%", text), text
    assert "claude-code" in text and "curl/8" in text
    assert "Tool telemetry (OpenTelemetry)" in text and "MeshClaw gateway" in text
    assert "Input read at the full price 3,000" in text
    # One bar per day in the chart's JSON data block (drawn by Chart.js), named for screen readers.
    data = re.search(r'<script type="application/json" id="chart-usage-daily-data">(.*?)</script>', html)
    assert data is not None
    assert len(json.loads(data.group(1))["labels"]) == 30
    assert '<canvas id="chart-usage-daily" data-chart="chart-usage-daily-data" role="img"' in html
    # Nobody else's usage, and no link to edit prices for a member.
    assert "777" not in text and "python-openai" not in text
    assert 'href="/prices"' not in html


def test_my_usage_is_mine_even_for_an_admin_and_links_admins_to_prices(site: Site) -> None:
    signed_in(site.client, site.admin)
    page = site.client.get("/usage")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "No AI usage recorded for you in the last 30 days." in text
    assert "python-openai" not in text
    assert 'href="/prices"' in page.text


def test_my_usage_needs_a_session(site: Site) -> None:
    answer = site.client.get("/usage", follow_redirects=False)
    assert answer.status_code in (302, 303)
    assert answer.headers["location"].startswith("/login?next=/usage")


def test_prices_page_for_members_is_read_only(site: Site) -> None:
    token = signed_in(site.client, site.member)
    page = site.client.get("/prices")
    assert page.status_code == 200
    assert "gpt-4o" in page.text and "claude-sonnet-4" in page.text
    assert 'action="/prices"' not in page.text
    refused = site.client.post(
        "/prices",
        data={"model": "x", "input_uncached": "1", "output": "1", "csrf_token": token},
        headers=HTMX,
    )
    assert refused.status_code == 403


def test_admin_adds_a_price_and_new_calls_use_it(site: Site) -> None:
    signed_in(site.client, site.admin)
    token = csrf_field(site.client.get("/prices").text)
    answer = site.client.post(
        "/prices",
        data={"model": "gpt-4o", "input_uncached": "5", "output": "20", "csrf_token": token},
        headers=HTMX,
    )
    assert answer.status_code == 200, answer.text
    assert 'id="prices-panel"' in answer.text and "<html" not in answer.text
    assert "Price for gpt-4o added; it applies to calls now." in answer.text
    assert text_of(answer.text).count("replaced") == 1
    # The running recorder was told: a call recorded now costs the new price.
    site.record(site.member, 0, "gpt-4o", "curl/8", seconds_ago=0, input_uncached=1_000_000)
    site.recorder.flush()
    with site.context.db.session() as session:
        newest = session.scalars(select(UsageEventRow).order_by(UsageEventRow.id.desc()).limit(1)).one()
        assert newest.cost_microusd == 5_000_000
        assert session.scalar(
            select(ModelPrice.created_by_user_id).order_by(ModelPrice.id.desc()).limit(1)
        ) == (site.admin.id)
    # Without JavaScript: post, redirect, and a fixed notice.
    plain = site.client.post(
        "/prices",
        data={
            "model": "o3",
            "input_uncached": "2",
            "output": "8",
            "effective_from": "2099-01-01T00:00",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert plain.status_code == 303 and plain.headers["location"] == "/prices?notice=added"
    page = site.client.get(plain.headers["location"])
    assert "Price added" in page.text and "scheduled" in page.text


def test_bad_price_input_says_which_box_to_fix_and_keeps_what_was_typed(site: Site) -> None:
    signed_in(site.client, site.admin)
    token = csrf_field(site.client.get("/prices").text)
    cases = [
        ({"model": "m1", "input_uncached": "cheap", "output": "1"}, "Input price must be a number"),
        ({"model": "m1", "input_uncached": "1", "output": ""}, "Output price is required"),
        ({"model": "m1", "input_uncached": "1", "output": "-3"}, "Output price must be between 0 and 100000"),
        ({"model": "", "input_uncached": "1", "output": "1"}, "Model is required"),
        ({"model": "m1", "input_uncached": "1", "output": "1", "effective_from": "next week"}, "ISO 8601"),
    ]
    for data, says in cases:
        answer = site.client.post("/prices", data={**data, "csrf_token": token}, headers=HTMX)
        assert answer.status_code in (400, 422), answer.text
        assert says in answer.text, (data, text_of(answer.text))
        assert 'role="alert"' in answer.text
        if data["model"]:
            assert 'value="m1"' in answer.text
    with site.context.db.session() as session:
        assert session.scalar(select(ModelPrice).where(ModelPrice.model == "m1")) is None


def test_price_form_needs_the_csrf_token(site: Site) -> None:
    signed_in(site.client, site.admin)
    answer = site.client.post(
        "/prices", data={"model": "m2", "input_uncached": "1", "output": "1"}, headers=HTMX
    )
    assert answer.status_code == 403
