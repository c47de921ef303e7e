"""Checks of an agent's grants against the accounts they name, when the definition is saved.

A grant of a connector's tools (`email_*`, `slack_post_message`) must name the account the agent acts
through, and that account must exist and be the owner's or the organization's: an agent never reaches an
account because its owner happens to have one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from meshclaw.accounts.store import find_account
from meshclaw.connectors.catalog import connector_names
from meshclaw.errors import InvalidInputError


def check_grant_accounts(
    session: Session, *, org_id: int, owner_user_id: int, grants: Sequence[tuple[str, str | None]]
) -> None:
    """`grants` holds (tool pattern, account) in the definition's order. Raises `InvalidInputError`
    naming the grant (`tools[2].account`) and what to do."""
    connectors = set(connector_names())
    for index, (tool, account) in enumerate(grants):
        domain = tool.split("_", 1)[0]
        if domain not in connectors:
            continue  # not a connector's tool: whether it exists is `check_tools`' business
        if account is None:
            raise InvalidInputError(
                f"tools[{index}].account: name the {domain} account the agent acts through (e.g. "
                f'account = "work-{domain}"); `meshclaw accounts list` shows the ones you can use',
                field=f"tools[{index}].account",
            )
        row = find_account(session, org_id, account)
        if row is None or (row.owner_user_id is not None and row.owner_user_id != owner_user_id):
            raise InvalidInputError(
                f"tools[{index}].account: the agent's owner has no account named '{account}' (and the "
                "organization has none shared); add it with `meshclaw accounts add` or pick another",
                field=f"tools[{index}].account",
            )
        if row.connector != domain:
            raise InvalidInputError(
                f"tools[{index}].account: '{account}' is a {row.connector} account, but '{tool}' is a "
                f"{domain} tool",
                field=f"tools[{index}].account",
            )
