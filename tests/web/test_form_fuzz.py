"""Every form the web UI shows takes odd input without a server error and without echoing markup: a crawl
of the pages an admin can reach finds each `<form method="post">` with its fields as the page fills them
in; then each field in turn is sent with odd values (empty, very long, control and right-to-left
characters, markup, huge and non-finite numbers) and the rest as the page gave them, so a request gets as
far into the handler as that one field lets it. A 500, or a response that carries the markup unescaped,
fails the test.

Forms that end the admin's own session (sign out, a new password, deactivating themselves) are left out:
the rest of the walk would only see the sign-in page."""

from __future__ import annotations

from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from fastapi.testclient import TestClient

from meshclaw.identity.principal import Role
from tests.conftest import People
from tests.web.conftest import WebPeople, csrf_field, signed_in

MARKUP = '<script>alert("mc")</script>'
ODD = [
    "",
    " ",
    "x" * 5000,
    "9" * 5000,
    "\x00\x07\u202e\ufeff",
    "ü🙂 ǅ",
    MARKUP,
    "-1",
    "1e309",
    "NaN",
    str(2**70),
]
START = ["/org", "/teams", "/users", "/account", "/account/keys", "/accounts", "/prices", "/providers",
         "/agents", "/agents/new", "/budgets", "/kill-switches", "/policy", "/approvals", "/clarity/flags",
         "/audit", "/notifications", "/usage"]  # fmt: skip
NOT_FOLLOWED = ("/logout", "/api/", "/v1/", "/static/", "/clarity/export", "/usage/export", "/audit/export")
SESSION_ENDING = ("/logout", "/account/password", "/login", "/setup/")


class Forms(HTMLParser):
    """The links and the post forms of one page: (action, {field: value}) with the values as submitted."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._form: dict[str, str] | None = None
        self._action = ""
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form" and a.get("method", "get").lower() == "post":
            self._form, self._action = {}, a.get("action", "")
        elif self._form is None or not a.get("name"):
            return
        elif tag == "input" and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                self._form.setdefault(a["name"], "")
            else:
                self._form[a["name"]] = a.get("value", "on" if a.get("type") == "checkbox" else "")
        elif tag == "select":
            self._select = a["name"]
            self._form.setdefault(a["name"], "")
        elif tag == "option" and self._select is not None:
            if "selected" in a or not self._form[self._select]:
                self._form[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self._form[a["name"]] = ""

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea is not None:
            self._form[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form" and self._form is not None:
            self.forms.append((self._action, self._form))
            self._form = None


def crawl(
    client: TestClient, limit: int = 120
) -> tuple[int, dict[tuple[str, tuple[str, ...]], dict[str, str]]]:
    """Pages visited, and each distinct form (action, field names) with the values of its first sighting."""
    queue, seen = deque(START), set(START)
    forms: dict[tuple[str, tuple[str, ...]], dict[str, str]] = {}
    visited = 0
    while queue and visited < limit:
        path = queue.popleft()
        page = client.get(path)
        visited += 1
        if page.status_code != 200 or "text/html" not in page.headers.get("content-type", ""):
            continue
        parser = Forms()
        parser.feed(page.text)
        for action, fields in parser.forms:
            target = urlsplit(urljoin(path, action or path)).path
            forms.setdefault((target, tuple(sorted(fields))), fields)
        for href in parser.links:
            link = urlsplit(urljoin(path, href))
            if link.netloc or not link.path.startswith("/") or link.path.startswith(NOT_FOLLOWED):
                continue
            if link.path not in seen:
                seen.add(link.path)
                queue.append(link.path)
    return visited, forms


def test_every_form_takes_odd_input_without_a_server_error(
    client: TestClient, people: People, web_people: WebPeople
) -> None:
    team = people.team("Fuzzers")
    member = people.add(team_id=team)
    client.post("/api/v1/agents", json={"spec": {"name": "fuzzed"}}, headers=member.auth)
    admin = web_people.add(Role.ADMIN)
    signed_in(client, admin)
    lenient = TestClient(client.app, raise_server_exceptions=False, cookies=client.cookies)
    visited, forms = crawl(lenient)
    assert visited > 20 and len(forms) > 15, f"the crawl found {visited} pages and {len(forms)} forms"
    sent, wrong = 0, []
    for (action, names), fields in sorted(forms.items()):
        if action.startswith(SESSION_ENDING) or action == f"/users/{admin.id}/active":
            continue
        for name in names:
            if name == "csrf_token":
                continue
            for value in ODD:
                answer = lenient.post(action, data={**fields, name: value})
                sent += 1
                if answer.status_code >= 500 and "runs_engine is off" not in answer.text:
                    wrong.append(f"POST {action} {name}={value[:20]!r}: {answer.status_code}")
                elif value == MARKUP and MARKUP in answer.text:
                    wrong.append(f"POST {action} {name}: the markup came back unescaped")
    assert sent > 300
    assert wrong == [], "\n".join(wrong)


def test_the_sign_in_and_set_up_forms_take_odd_input_from_anyone(
    client: TestClient, web_people: WebPeople
) -> None:
    """The forms anyone can post to without an account: odd values in each field are a refusal, never a
    server error, and never sign anyone in."""
    web_people.add(Role.ADMIN)
    lenient = TestClient(client.app, raise_server_exceptions=False)
    token = csrf_field(lenient.get("/login").text)
    valid = {"email": "nobody@example.org", "password": "wrong password", "next": "/org", "csrf_token": token}
    setup = {"email": "a@example.org", "name": "A", "password": "x" * 12, "password_again": "x" * 12}
    sent, wrong = 0, []
    for action, fields in (("/login", valid), ("/setup/not-a-token", {**setup, "csrf_token": token})):
        for name in fields:
            for value in ODD:
                answer = lenient.post(action, data={**fields, name: value}, follow_redirects=False)
                sent += 1
                if answer.status_code >= 500 or (value == MARKUP and MARKUP in answer.text):
                    wrong.append(f"POST {action} {name}={value[:20]!r}: {answer.status_code}")
                if "set-cookie" in answer.headers and "meshclaw_session=" in answer.headers["set-cookie"]:
                    wrong.append(f"POST {action} {name}={value[:20]!r}: a session was started")
    assert sent > 80
    assert wrong == [], "\n".join(wrong)
