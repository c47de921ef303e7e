"""Which key sent the telemetry. OTel exporters set headers from `OTEL_EXPORTER_OTLP_HEADERS`, so both
`Authorization=Bearer <key>` and `x-api-key=<key>` work; the key needs the `ingest` scope."""

from __future__ import annotations

from starlette.datastructures import Headers

from meshclaw.context import AppContext
from meshclaw.errors import AuthenticationError, PermissionDeniedError
from meshclaw.identity.authenticate import principal_from_key
from meshclaw.identity.principal import KeyScope, Principal

KEY_HEADERS = ("x-api-key", "x-meshclaw-key")


def key_from_headers(headers: Headers) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for name in KEY_HEADERS:
        if headers.get(name, "").strip():
            return headers[name].strip()
    return None


def ingest_principal(
    context: AppContext, headers: Headers, *, also: frozenset[KeyScope] = frozenset()
) -> Principal:
    """The key's owner, if the key is live and has the `ingest` scope (or one of `also`)."""
    key = key_from_headers(headers)
    if key is None:
        raise AuthenticationError(
            "send a MeshClaw API key with the ingest scope as 'Authorization: Bearer <key>' or 'x-api-key: "
            "<key>' (for OTel exporters: OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<key>)"
        )
    with context.db.session() as session:
        principal = principal_from_key(session, key, now=context.clock.now())
    allowed = {KeyScope.INGEST, *also}
    if principal.key_scopes is not None and not principal.key_scopes & allowed:
        raise PermissionDeniedError(
            "this API key does not have the ingest scope; create one with `meshclaw keys create --scope ingest`"
        )
    return principal
