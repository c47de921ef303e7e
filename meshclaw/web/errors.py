"""Errors on web paths as people expect them: a friendly page, a sign-in redirect, or an HTMX message.

Registered with `meshclaw.server.errors.install_error_handlers` for the web's path prefixes, so a 403 on
/users/7 is a page with the navigation and the reason, while /api keeps its JSON.

- 401 (no session, or it expired): redirect to /login?next=<the page>; for HTMX, an `HX-Redirect`
  header, because a swapped-in login form inside a panel would be nonsense. Under /auth/ (single
  sign-on) a 401 means the sign-in itself failed, so it gets the error page with the reason instead.
- Other errors on an HTMX request: a short alert retargeted (`HX-Retarget`) to the page's `#flash` area,
  so the panel the user was working in stays as it was.
- Otherwise: error.html with the status and the message (messages never contain secrets).
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from meshclaw.web.deps import safe_next
from meshclaw.web.headers import SECURITY_HEADERS
from meshclaw.web.render import is_htmx, render

_TITLES = {
    400: "Bad request",
    401: "Sign-in failed",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    422: "Check the form",
    429: "Too many attempts",
}


def login_redirect_target(request: Request) -> str:
    if request.headers.get("hx-request") == "true":
        current = request.headers.get("hx-current-url", "")
        parts = urlsplit(current)
        page = parts.path + (f"?{parts.query}" if parts.query else "")
    elif request.method == "GET":
        page = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        page = ""
    target = safe_next(page) if page else ""
    return f"/login?next={quote(target, safe='/')}" if target else "/login"


def render_html_error(request: Request, status: int, code: str, message: str, field: str | None) -> Response:
    # Under /auth (single sign-on) a 401 is the answer to a sign-in attempt: show why, do not loop to /login.
    if status == 401 and not request.url.path.startswith("/auth/"):
        target = login_redirect_target(request)
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    title = _TITLES.get(status, "Something went wrong")
    if is_htmx(request):
        return render(
            request,
            "_flash.html",
            status=status,
            error=message,
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
        )
    response = render(request, "error.html", status=status, title=title, message=message, code=code)
    # A 500 is answered from Starlette's outermost middleware, outside SecurityHeadersMiddleware.
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
