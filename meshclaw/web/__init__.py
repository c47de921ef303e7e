"""Owns the web UI: server-rendered pages (Jinja2 templates, HTMX for partial updates, no front-end build),
browser sign-in and sign-out, the first-admin setup link, CSRF protection for forms, the HTML error pages
and the security headers of HTML responses. Static assets are vendored in `static/` and served by the app.

Pages hold no business rules: every page and action calls `identity` (store, authenticate, bootstrap) and
`identity.authorize`; the templates only decide what to show from answers `authorize` already gave.
"""
