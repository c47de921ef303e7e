"""The /budgets page through the real app (TestClient), signed in by the form: status for everyone it
applies to, the add and remove forms for admins (htmx and plain), CSRF, and the running limiter."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from meshclaw.limits.admission import Limiter, LimitExceeded, Subject
from tests.web.conftest import WebPeople, csrf_field, signed_in

HTMX = {"HX-Request": "true"}


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_admin_adds_and_removes_a_budget_and_the_limiter_applies_it(
    client: TestClient, web_people: WebPeople
) -> None:
    admin = web_people.add(Role.ADMIN)
    member = web_people.add()
    signed_in(client, admin)
    page = client.get("/budgets")
    assert page.status_code == 200
    assert 'href="/budgets" aria-current="page"' in page.text
    assert "No budgets yet" in text_of(page.text)
    token = csrf_field(page.text)
    answer = client.post(
        "/budgets",
        data={
            "subject_type": "user",
            "subject": member.email,
            "unit": "requests",
            "amount": "1",
            "period": "minute",
            "csrf_token": token,
        },
        headers=HTMX,
    )
    assert answer.status_code == 200, answer.text
    assert 'id="budgets-panel"' in answer.text and "<html" not in answer.text
    shown = text_of(answer.text)
    assert f"Saved for user {member.email}: 1 requests per minute." in shown

    limiter = client.app.state.limiter  # type: ignore[attr-defined]
    assert isinstance(limiter, Limiter)
    now = datetime.now(UTC)
    limiter.admit(Subject(user_id=member.id), reserve_tokens=0, reserve_cost_microusd=0, now=now)
    try:
        limiter.admit(Subject(user_id=member.id), reserve_tokens=0, reserve_cost_microusd=0, now=now)
        raise AssertionError("the budget set on the page did not reach the limiter")
    except LimitExceeded:
        pass

    # Without JavaScript: post, redirect, fixed notice; the status shows spend and the reset time.
    plain = client.post(
        "/budgets",
        data={
            "subject_type": "user",
            "subject": member.email,
            "unit": "usd",
            "amount": "12.5",
            "period": "week",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert plain.status_code == 303 and plain.headers["location"] == "/budgets?notice=added"
    shown = text_of(client.get(plain.headers["location"]).text)
    assert "Budget saved" in shown
    assert "hard budget of 12.50 USD per week (UTC) $0.00 0%" in shown

    budget_id = re.search(r'action="/budgets/(\d+)/remove"', answer.text)
    assert budget_id
    removed = client.post(f"/budgets/{budget_id.group(1)}/remove", data={"csrf_token": token}, headers=HTMX)
    assert removed.status_code == 200
    assert "requests per minute" not in text_of(removed.text)
    limiter.admit(Subject(user_id=member.id), reserve_tokens=0, reserve_cost_microusd=0, now=now)


def test_bad_input_says_which_box_to_fix_and_keeps_what_was_typed(
    client: TestClient, web_people: WebPeople
) -> None:
    admin = web_people.add(Role.ADMIN)
    signed_in(client, admin)
    token = csrf_field(client.get("/budgets").text)
    cases = [
        ({"subject": "nobody@example.org", "amount": "5"}, "No user 'nobody@example.org'"),
        ({"subject": admin.email, "amount": "lots"}, "Amount must be a number"),
        ({"subject": admin.email, "amount": "-1"}, "Amount must be greater than 0"),
        (
            {"subject": admin.email, "amount": "5", "unit": "requests", "period": "day"},
            "Unknown period 'day' for requests",
        ),
        ({"subject": "", "amount": "5"}, "Whose budget"),
    ]
    for data, says in cases:
        form = {"subject_type": "user", "unit": "usd", "period": "day", **data, "csrf_token": token}
        answer = client.post("/budgets", data=form, headers=HTMX)
        assert answer.status_code in (400, 422), answer.text
        assert says in text_of(answer.text), (data, text_of(answer.text))
        assert 'role="alert"' in answer.text
        assert f'value="{html.escape(data["amount"])}"' in answer.text


def test_members_see_their_budgets_read_only(client: TestClient, web_people: WebPeople) -> None:
    admin = web_people.add(Role.ADMIN)
    member = web_people.add()
    other = web_people.add()
    signed_in(client, admin)
    token = csrf_field(client.get("/budgets").text)
    for who in (member, other):
        data = {
            "subject_type": "user",
            "subject": who.email,
            "unit": "tokens",
            "amount": "1000",
            "period": "month",
            "csrf_token": token,
        }
        assert client.post("/budgets", data=data, headers=HTMX).status_code == 200
    client.post("/logout", data={"csrf_token": token})

    token = signed_in(client, member)
    page = client.get("/budgets")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert f"user {member.email}" in shown and other.email not in shown
    assert 'action="/budgets"' not in page.text and "/remove" not in page.text
    assert 'href="/budgets"' not in page.text  # no navigation entry for those who cannot set budgets
    refused = client.post(
        "/budgets",
        data={
            "subject_type": "user",
            "subject": member.email,
            "unit": "usd",
            "amount": "99",
            "period": "day",
            "csrf_token": token,
        },
        headers=HTMX,
    )
    assert refused.status_code == 403


def test_the_form_needs_the_csrf_token(client: TestClient, web_people: WebPeople) -> None:
    admin = web_people.add(Role.ADMIN)
    signed_in(client, admin)
    answer = client.post(
        "/budgets",
        data={"subject_type": "user", "subject": admin.email, "unit": "usd", "amount": "5", "period": "day"},
        headers=HTMX,
    )
    assert answer.status_code == 403
