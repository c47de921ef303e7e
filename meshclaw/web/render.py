"""Turning a template into a response, for full pages and for HTMX partials.

Each page template extends `base.html` and includes one panel partial (`_teams_panel.html`, …); an HTMX
request gets the panel alone, a plain request the whole page. Forms work both ways: with JavaScript the
panel is swapped in place, without it a success redirects (post/redirect/get) and an error re-renders the
page with the message, so the UI never depends on JavaScript to be usable.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from meshclaw.web.clarity_tables import body_rows

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@cache
def environment() -> Environment:
    """Built on first use, not at import; it holds only the template files, never settings or data."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["day"] = day
    env.filters["sentence"] = sentence
    env.filters["table_rows"] = body_rows
    return env


def when(moment: datetime | None) -> str:
    """Timestamps are stored in UTC; show them as such, to the minute."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else "—"


def sentence(message: str) -> str:
    """Error messages are written lower-case and unpunctuated for logs and JSON; on a page they are sentences."""
    text = message.strip()
    if text and text[-1] not in ".!?":
        text += "."
    return text[:1].upper() + text[1:]


def is_htmx(request: Request) -> bool:
    """A partial is wanted: an HTMX request, except a history restore, which needs the whole page."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def render(
    request: Request,
    template: str,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    values.setdefault("viewer", getattr(request.state, "viewer", None))
    values.setdefault("error", None)
    values.setdefault("notice", None)
    html = environment().get_template(template).render(request=request, **values)
    response = HTMLResponse(html, status_code=status, headers=headers)
    # The same URL answers with a page or a partial; caches must not mix them up.
    response.headers["Vary"] = "HX-Request"
    return response


def form_result(
    request: Request,
    *,
    page_template: str,
    panel_template: str,
    redirect_to: str,
    error: str | None = None,
    status: int = 200,
    **values: Any,
) -> Response:
    """The answer to a form post: the panel for HTMX, else a redirect on success or the page on error."""
    if is_htmx(request):
        return render(request, panel_template, status=status, error=error, **values)
    if error is None:
        return RedirectResponse(redirect_to, status_code=303)
    return render(request, page_template, status=status, error=error, **values)
