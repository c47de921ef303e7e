"""From verified OIDC claims to a MeshClaw user: subject first, verified email second, creation if allowed."""

from __future__ import annotations

import re

import pytest

from meshclaw.context import AppContext
from meshclaw.db.models import User
from meshclaw.errors import AuthenticationError
from meshclaw.identity import store
from meshclaw.identity.oidc import SignInClaims, subject_key, user_for_sign_in
from meshclaw.identity.principal import Role
from tests.conftest import People
from tests.postgres import BOTH_BACKENDS

ISSUER = "https://id.example.org"


def sign_in(
    context: AppContext, org_id: int, claims: SignInClaims, *, auto_create: bool = False
) -> tuple[int, str, str | None]:
    """Run the rules in one transaction, as the web callback does; return (id, email, stored subject)."""
    with context.db.session() as session:
        user = user_for_sign_in(
            session, org_id=org_id, claims=claims, auto_create=auto_create, now=context.clock.now()
        )
        return user.id, user.email, user.oidc_subject


def stored_subject(context: AppContext, user_id: int) -> str | None:
    with context.db.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.oidc_subject


def user_count(context: AppContext) -> int:
    with context.db.session() as session:
        return len(session.query(User).all())


def claims(subject: str = "sub-1", **values: object) -> SignInClaims:
    return SignInClaims.from_claims(ISSUER, {"sub": subject, **values})


@BOTH_BACKENDS
def test_a_verified_email_links_the_known_user_and_remembers_the_subject(
    context: AppContext, org_id: int, people: People
) -> None:
    ada = people.add(Role.MANAGER, email="ada@example.org")
    user_id, _, subject = sign_in(context, org_id, claims(email="Ada@Example.org", email_verified=True))
    assert user_id == ada.id
    assert subject == subject_key(ISSUER, "sub-1")
    assert stored_subject(context, ada.id) == subject_key(ISSUER, "sub-1")


def test_a_linked_subject_wins_even_when_the_email_changed_or_is_unverified(
    context: AppContext, org_id: int, people: People
) -> None:
    ada = people.add(email="ada@example.org")
    sign_in(context, org_id, claims(email="ada@example.org", email_verified=True))
    user_id, email, _ = sign_in(context, org_id, claims(email="ada.lovelace@example.org"))
    assert (user_id, email) == (ada.id, "ada@example.org")


def test_an_unverified_email_is_refused_and_links_nothing(
    context: AppContext, org_id: int, people: People
) -> None:
    ada = people.add(email="ada@example.org")
    with pytest.raises(
        AuthenticationError, match=re.escape("has not verified the email address ada@example.org")
    ):
        sign_in(context, org_id, claims(email="ada@example.org", email_verified=False), auto_create=True)
    assert stored_subject(context, ada.id) is None


def test_the_string_true_counts_as_verified(context: AppContext, org_id: int, people: People) -> None:
    ada = people.add(email="ada@example.org")
    user_id, _, _ = sign_in(context, org_id, claims(email="ada@example.org", email_verified="true"))
    assert user_id == ada.id


def test_no_email_claim_is_refused_with_what_to_allow(context: AppContext, org_id: int) -> None:
    with pytest.raises(AuthenticationError, match="'email' scope"):
        sign_in(context, org_id, claims(), auto_create=True)


def test_an_unknown_email_is_refused_when_auto_create_is_off(context: AppContext, org_id: int) -> None:
    with pytest.raises(
        AuthenticationError, match=re.escape("no MeshClaw account uses the email address new@example.org")
    ):
        sign_in(context, org_id, claims(email="new@example.org", email_verified=True))
    assert user_count(context) == 0


@BOTH_BACKENDS
def test_an_unknown_email_becomes_a_member_when_auto_create_is_on(context: AppContext, org_id: int) -> None:
    user_id, _, subject = sign_in(
        context,
        org_id,
        claims(email="New@Example.org", email_verified=True, name="Grace Hopper"),
        auto_create=True,
    )
    with context.db.session() as session:
        user = store.get_user(session, org_id, user_id)
        assert (user.email, user.name, user.role, user.active) == (
            "new@example.org",
            "Grace Hopper",
            "member",
            True,
        )
        assert user.password_hash is None
    assert subject == subject_key(ISSUER, "sub-1")
    # The next sign-in finds the same person through the subject, not a second account.
    again, _, _ = sign_in(
        context, org_id, claims(email="new@example.org", email_verified=True), auto_create=True
    )
    assert again == user_id
    assert user_count(context) == 1


def test_an_unusable_name_falls_back_to_the_email(context: AppContext, org_id: int) -> None:
    user_id, _, _ = sign_in(
        context, org_id, claims(email="lin@example.org", email_verified=True, name="a\nb"), auto_create=True
    )
    with context.db.session() as session:
        assert store.get_user(session, org_id, user_id).name == "lin"


def test_a_deactivated_user_is_refused_by_email_and_by_subject(
    context: AppContext, org_id: int, people: People
) -> None:
    ada = people.add(email="ada@example.org")
    sign_in(context, org_id, claims(email="ada@example.org", email_verified=True))
    with context.db.session() as session:
        store.update_user(session, store.get_user(session, org_id, ada.id), active=False)
    with pytest.raises(AuthenticationError, match=re.escape("ada@example.org is deactivated")):
        sign_in(context, org_id, claims(email="ada@example.org", email_verified=True))
    with pytest.raises(AuthenticationError, match="is deactivated"):
        sign_in(context, org_id, claims("sub-2", email="ada@example.org", email_verified=True))


@BOTH_BACKENDS
def test_an_email_already_linked_to_another_identity_is_refused(
    context: AppContext, org_id: int, people: People
) -> None:
    ada = people.add(email="ada@example.org")
    sign_in(context, org_id, claims("sub-1", email="ada@example.org", email_verified=True))
    with pytest.raises(AuthenticationError, match="already linked to another single sign-on identity"):
        sign_in(context, org_id, claims("sub-2", email="ada@example.org", email_verified=True))
    assert stored_subject(context, ada.id) == subject_key(ISSUER, "sub-1")


def test_the_same_subject_at_another_issuer_is_another_identity(
    context: AppContext, org_id: int, people: People
) -> None:
    people.add(email="ada@example.org")
    sign_in(context, org_id, claims("sub-1", email="ada@example.org", email_verified=True))
    other = SignInClaims.from_claims("https://other.example.net", {"sub": "sub-1"})
    with pytest.raises(AuthenticationError, match="did not share an email address"):
        sign_in(context, org_id, other)
    assert subject_key(ISSUER, "s") == subject_key(ISSUER + "/", "s")
    assert subject_key(ISSUER, "s") != subject_key("https://other.example.net", "s")


@pytest.mark.parametrize("subject", [None, "", 7, "x" * 256])
def test_a_missing_or_malformed_subject_is_refused(subject: object) -> None:
    with pytest.raises(AuthenticationError, match="no valid subject"):
        SignInClaims.from_claims(ISSUER, {"sub": subject, "email": "a@example.org"})
