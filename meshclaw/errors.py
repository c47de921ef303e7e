"""The errors every layer may raise; interfaces map each class to one HTTP status and one CLI exit.

Messages are written for the person who has to fix the input: they say what is wrong and what to do.
They never contain a secret.
"""

from __future__ import annotations


class MeshclawError(Exception):
    """Base class. `status` is the HTTP status an interface answers with."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInputError(MeshclawError):
    """The request or file is malformed or breaks a rule; `field` names the culprit when there is one."""

    status = 422
    code = "invalid_input"


class BadRequestError(InvalidInputError):
    """A malformed query parameter (a date, a cursor, a choice, an id): 400, saying what to send instead."""

    status = 400
    code = "bad_request"


class NotFoundError(MeshclawError):
    status = 404
    code = "not_found"


class ConflictError(MeshclawError):
    """The input is valid but clashes with what exists (a duplicate email, a cycle in a tree)."""

    status = 409
    code = "conflict"


class AuthenticationError(MeshclawError):
    """No valid credential: wrong password, unknown, revoked or expired key, expired session."""

    status = 401
    code = "unauthenticated"


class PermissionDeniedError(MeshclawError):
    """A valid principal asked for something its role or scopes do not allow.

    The message never says whether the resource exists, so a denial leaks nothing.
    """

    status = 403
    code = "forbidden"


class RateLimitedError(MeshclawError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
