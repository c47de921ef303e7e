"""Whose telemetry a record is: the rules behind `metering.otel_batch.Identify`.

- `user.email` on the record or its resource names the person; `user.id` does too when it is an email
  (Claude Code's `user.id` is otherwise an anonymous install id, which names nobody we know).
- A record that names nobody belongs to the key's owner.
- A record naming an email MeshClaw does not know is rejected (reported in `partial_success`), never
  silently given to the key's owner.
- Only an admin's key may report for other people (a shared collector); a member's key reporting for
  someone else is rejected, so nobody can charge usage to a colleague.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshclaw.context import AppContext
from meshclaw.identity import store
from meshclaw.identity.principal import Principal, Role
from meshclaw.metering.otel_batch import Unattributable


def named_email(attrs: Mapping[str, Any]) -> str | None:
    email = attrs.get("user.email")
    if isinstance(email, str) and email.strip():
        return email.strip().lower()
    user_id = attrs.get("user.id")
    if isinstance(user_id, str) and "@" in user_id:
        return user_id.strip().lower()
    return None


class Directory:
    """Resolves emails for one request, each once."""

    def __init__(self, context: AppContext, principal: Principal) -> None:
        self.context = context
        self.principal = principal
        self._ids: dict[str, int | None] = {principal.email.lower(): principal.user_id}

    def identify(self, attrs: Mapping[str, Any]) -> int | None:
        email = named_email(attrs)
        if email is None:
            return self.principal.user_id
        if email not in self._ids:
            with self.context.db.session() as session:
                user = store.user_by_email(session, self.principal.org_id, email)
                self._ids[email] = user.id if user is not None else None
        user_id = self._ids[email]
        if user_id is None:
            raise Unattributable(f"no MeshClaw user has the email {email}; add them or fix user.email")
        if user_id != self.principal.user_id and self.principal.role != Role.ADMIN:
            raise Unattributable(
                f"this key may only report its owner's telemetry, not {email}'s; "
                "a collector reporting for several people needs an admin's key"
            )
        return user_id
