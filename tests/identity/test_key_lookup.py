"""A key is named by its prefix or its id. Prefixes are random and can be all digits (about 2% of keys):
such a prefix still finds its key rather than being read as an id."""

from __future__ import annotations

import pytest

from meshclaw.context import AppContext
from meshclaw.errors import NotFoundError
from meshclaw.identity import store
from tests.conftest import People


def test_an_all_digit_prefix_finds_its_key_and_ids_still_work(
    context: AppContext, people: People, org_id: int
) -> None:
    owner = people.add()
    with context.db.session() as session:
        digits, _ = store.create_key(
            session, org_id=org_id, owner_user_id=owner.id, name="digits", now=context.clock.now()
        )
        other, _ = store.create_key(
            session, org_id=org_id, owner_user_id=owner.id, name="other", now=context.clock.now()
        )
        digits.prefix = "26954227"  # what the random prefix of the flaky CLI test happened to be
        session.flush()
        assert store.key_by_id_or_prefix(session, org_id, "26954227").name == "digits"
        assert store.key_by_id_or_prefix(session, org_id, other.prefix).name == "other"
        assert store.key_by_id_or_prefix(session, org_id, str(other.id)).name == "other"
        with pytest.raises(NotFoundError, match="no API key with id or prefix 99999999"):
            store.key_by_id_or_prefix(session, org_id, "99999999")
