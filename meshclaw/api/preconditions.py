"""Conditional requests (RFC 9110, section 13) for versioned resources: the version as the `ETag`, and
`If-Match` on a change, so a client that read version n cannot silently overwrite a version n+1 it has
not seen (the lost update).

The ETag is the version's number in quotes (`"3"`): a strong validator, since a version number names one
definition forever. `If-Match` takes one or more of them, or `*` (whatever version is current). A request
without `If-Match` is not checked, so clients written before it keep working; clients should send it.
Whether the named version is still current is decided by the save itself, in its transaction
(`agents.store`), not here: a check here could pass and be stale a moment later.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from meshclaw.errors import BadRequestError

IF_MATCH = "If-Match"


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None, current: int | None) -> int | None:
    """The version a change must be saved over: None when the request asks nothing (no If-Match, or `*`);
    the current version when If-Match names it (the save re-checks it atomically); else one of those it
    names, which the save then finds is not current. A malformed header is a 400 saying what to send."""
    if if_match is None or if_match.strip() == "*":
        return None
    named: set[int] = set()
    for tag in if_match.split(","):
        value = tag.strip()
        number = value[1:-1] if len(value) > 2 and value[0] == value[-1] == '"' else ""
        if not (number.isascii() and number.isdigit()) or len(number) > 18:
            raise BadRequestError(
                f"If-Match: '{value[:40]}' is not an ETag this API gave; send the ETag header of the "
                'GET as it came, quotes included (If-Match: "3"), or leave If-Match out',
                field=IF_MATCH,
            )
        named.add(int(number))
    return current if current in named else min(named)


def precondition_failed(message: str, *, current: int | None) -> JSONResponse:
    """412 in the usual error shape plus `current_version`, with the current version's ETag, so a client
    can read the resource again and re-apply its change without parsing the message."""
    body: dict[str, object] = {
        "code": "precondition_failed",
        "message": message,
        "field": IF_MATCH,
        "current_version": current,
    }
    headers = {"ETag": etag(current)} if current is not None else None
    return JSONResponse({"error": body}, status_code=412, headers=headers)
