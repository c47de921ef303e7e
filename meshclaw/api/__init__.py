"""Owns the JSON API under /api/v1: one router per resource, typed request and response shapes, and
request authentication (API key or session cookie with CSRF). Handlers hold no business rules: they call
`identity` (and later the services) and `authorize`."""
