"""Who an OpenID Connect sign-in is: from an ID token's verified claims to a MeshClaw user, or a refusal.

This module knows nothing of HTTP or tokens: `meshclaw.web.oidc` verifies the ID token (signature,
issuer, audience, expiry, nonce) and hands over its claims. The rules, in order:

1. **The subject decides.** A user already linked to this identity (`User.oidc_subject`) is that user,
   whatever email the provider now reports: emails change, a subject never does.
2. **Else a verified email links.** A user whose email equals the claim's is linked (the subject is
   remembered) only when the provider says it verified that email; otherwise anyone who can type an
   address at the provider could take over the MeshClaw account that owns it.
3. **Else, when `oidc_auto_create_users` is on**, a member is created from the verified email and name.

Deactivated users are refused at every step. A subject is unique only per issuer (OIDC Core 2), so the
stored value is a digest of issuer and subject together: switching to another provider can never sign
someone in as a person whose old subject happens to match, and the value always fits the column, whatever
the lengths of issuer and subject (up to 255 characters each).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.db.models import User
from meshclaw.errors import AuthenticationError, InvalidInputError
from meshclaw.identity import store
from meshclaw.identity.principal import Role

_MAX_SUBJECT = 255
"""OIDC Core 2: a `sub` must not exceed 255 ASCII characters."""


@dataclass(frozen=True, kw_only=True)
class SignInClaims:
    """What MeshClaw uses from a verified ID token (and the userinfo response, when the token lacks them)."""

    issuer: str
    subject: str
    email: str | None = None
    email_verified: bool = False
    name: str | None = None

    @classmethod
    def from_claims(cls, issuer: str, claims: Mapping[str, object]) -> SignInClaims:
        """Read the standard claims defensively: their types come from the provider, not from us."""
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > _MAX_SUBJECT:
            raise AuthenticationError("the identity provider sent no valid subject (sub) for this sign-in")
        email = claims.get("email")
        name = claims.get("name")
        verified = claims.get("email_verified")
        return cls(
            issuer=issuer,
            subject=subject,
            email=email if isinstance(email, str) and email.strip() else None,
            # Some providers send the JSON string "true" instead of the boolean.
            email_verified=verified is True or (isinstance(verified, str) and verified.lower() == "true"),
            name=name if isinstance(name, str) else None,
        )


def subject_key(issuer: str, subject: str) -> str:
    """The value stored in `User.oidc_subject`: one identity at one issuer, in 71 characters."""
    canonical = f"{issuer.rstrip('/')}\x00{subject}"
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _refuse_if_inactive(user: User) -> User:
    if not user.active:
        raise AuthenticationError(
            f"the MeshClaw account {user.email} is deactivated; ask an admin to reactivate it"
        )
    return user


def _display_name(name: str | None) -> str | None:
    """The provider's name when it is a usable one; else None, and the email's local part is used."""
    if not name:
        return None
    try:
        return store.clean_name(name, "user")
    except InvalidInputError:
        return None


def user_for_sign_in(
    session: Session, *, org_id: int, claims: SignInClaims, auto_create: bool, now: datetime
) -> User:
    """The user this sign-in is, linking or creating as the rules above allow; raises AuthenticationError."""
    key = subject_key(claims.issuer, claims.subject)
    linked = session.scalars(select(User).where(User.org_id == org_id, User.oidc_subject == key)).first()
    if linked is not None:
        return _refuse_if_inactive(linked)

    if claims.email is None:
        raise AuthenticationError(
            "the identity provider did not share an email address; allow MeshClaw the 'email' scope there"
        )
    try:
        email = store.normalize_email(claims.email)
    except InvalidInputError:
        raise AuthenticationError(
            "the identity provider sent an email address MeshClaw cannot use; fix it there"
        ) from None
    if not claims.email_verified:
        raise AuthenticationError(
            f"the identity provider has not verified the email address {email}; "
            "verify it there, then sign in again"
        )

    user = store.user_by_email(session, org_id, email)
    if user is not None:
        _refuse_if_inactive(user)
        if user.oidc_subject is not None:
            # Same email, another identity: the provider re-issued the address to someone else, or the
            # account was linked through a different provider. Either way a person must decide.
            raise AuthenticationError(
                f"the MeshClaw account {email} is already linked to another single sign-on identity; "
                "ask an admin to check which one is right"
            )
        user.oidc_subject = key
        session.flush()
        return user

    if not auto_create:
        raise AuthenticationError(
            f"no MeshClaw account uses the email address {email}; ask an admin to add you"
        )
    user = store.create_user(
        session, org_id=org_id, email=email, name=_display_name(claims.name), role=Role.MEMBER, now=now
    )
    user.oidc_subject = key
    session.flush()
    return user
