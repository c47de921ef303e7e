"""The demo's way in: an admin whose password is generated at each `meshclaw demo` start and printed
once, never fixed in code or stored in clear."""

from __future__ import annotations

import secrets

from meshclaw.context import AppContext
from meshclaw.identity import store
from meshclaw.identity.passwords import hash_password
from meshclaw.identity.principal import Role

DEMO_ADMIN_LOCAL_PART = "demo-admin"


def reset_demo_admin(context: AppContext, org_id: int, *, domain: str) -> tuple[str, str]:
    """Create the demo admin, or give it a new password; returns (email, password)."""
    email = f"{DEMO_ADMIN_LOCAL_PART}@{domain}"
    password = secrets.token_urlsafe(15)
    password_hash = hash_password(password)
    with context.db.session() as session:
        user = store.user_by_email(session, org_id, email)
        if user is None:
            store.create_user(session, org_id=org_id, email=email, name="Demo Admin", role=Role.ADMIN,
                              password_hash=password_hash, now=context.clock.now())  # fmt: skip
        else:
            store.update_user(session, user, role=Role.ADMIN, active=True, password_hash=password_hash)
    return email, password
