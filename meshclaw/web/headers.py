"""Security headers for the web UI's responses, added by one pure ASGI middleware.

Every HTML response outside /api (pages, error pages, the login form) and every static asset gets them,
so no page can forget. /api keeps its own behaviour: its JSON needs none of this, and the interactive API
docs at /api/v1/docs load Swagger UI in a way this policy would block.

The policy allows only our own origin and no inline script at all, which is why every line of JavaScript
lives in static files and htmx is configured (in base.html) not to inject its inline indicator style and
never to evaluate code.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""`data:` images only because Pico draws its checkbox and select icons as inline SVG in the stylesheet."""

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

_EXCLUDED_PREFIX = "/api/"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(_EXCLUDED_PREFIX):
            await self.app(scope, receive, send)
            return
        is_static = path.startswith("/static/")

        async def add_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = next(
                    (value for name, value in headers if name.lower() == b"content-type"), b""
                )
                is_html = content_type.startswith(b"text/html")
                if is_html or is_static:
                    for name, value in SECURITY_HEADERS.items():
                        if name.lower().encode() not in present:
                            headers.append((name.lower().encode(), value.encode()))
                if is_html and b"cache-control" not in present:
                    # Pages show one person's data (and once, a new API key): never keep them in a cache.
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, add_headers)
