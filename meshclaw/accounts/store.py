"""Connector accounts in the database: added, changed and removed by the interfaces (which authorize and
audit), read by the tools and event sources (through `resolver`).

A config is checked against its connector's schema before it is saved, with every secret given as a
`vault:NAME` reference to a secret the owner (or, for any account, the organization) has: a plain value
in a secret field is refused, so no secret is ever stored outside the vault.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meshclaw.accounts.secrets import PREFIX, is_reference, map_secrets, secret_values
from meshclaw.connectors.catalog import connector_names, load
from meshclaw.connectors.contract import Account, AccountConfig, AccountError
from meshclaw.db.models.connectors import ConnectorAccount
from meshclaw.errors import ConflictError, InvalidInputError, NotFoundError
from meshclaw.vault.store import Vault, find_secret, owner_of

ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def check_name(name: str) -> str:
    if not ACCOUNT_NAME.match(name):
        raise InvalidInputError(
            f"account name '{name}' must be 1-63 lower-case letters, digits and '-', e.g. work-mail",
            field="name",
        )
    return name


def check_config(
    session: Session, *, org_id: int, connector: str, owner_user_id: int | None, config: Mapping[str, Any]
) -> dict[str, Any]:
    """The config as it will be stored, after checking it against the connector's schema and checking
    that each secret is a reference to an existing vault secret. Raises `InvalidInputError` naming the
    field and what to do."""
    if connector not in connector_names():
        known = ", ".join(connector_names()) or "none"
        raise InvalidInputError(f"no connector named '{connector}' (known: {known})", field="connector")
    schema = load(connector).config
    stored = dict(config)
    for path, value in secret_values(schema, stored):
        if value is None:
            continue
        if not is_reference(value):
            raise InvalidInputError(
                f"'{path}' is a secret: store it in the vault (`meshclaw vault set NAME`) and write "
                f"'{PREFIX}NAME' here instead of the value",
                field=f"config.{path}",
            )
        name = str(value).removeprefix(PREFIX)
        if not _secret_exists(session, org_id=org_id, owner_user_id=owner_user_id, name=name):
            holders = (
                "neither the account's owner nor the organization has"
                if owner_user_id is not None
                else "the organization does not have"
            )
            raise InvalidInputError(
                f"'{path}' names the vault secret '{name}', which {holders}: store it first with "
                f"`meshclaw vault set {name}`",
                field=f"config.{path}",
            )
    # Validate with placeholders where the secrets go: the schema checks everything else now, and the
    # secrets' own shape when they are resolved.
    placeholder = map_secrets(schema, stored, lambda path, value: "placeholder" if value else value)
    try:
        schema.model_validate(placeholder)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "config"
        raise InvalidInputError(
            f"config.{where}: {first['msg']} ({len(exc.errors())} problem(s) in the {connector} config)",
            field=f"config.{where}",
        ) from None
    return stored


def _secret_exists(session: Session, *, org_id: int, owner_user_id: int | None, name: str) -> bool:
    owners = [owner_of(owner_user_id), owner_of(None)] if owner_user_id is not None else [owner_of(None)]
    return any(find_secret(session, org_id, owner=owner, name=name) is not None for owner in owners)


def add_account(
    session: Session,
    *,
    org_id: int,
    name: str,
    connector: str,
    owner_user_id: int | None,
    config: Mapping[str, Any],
    by_user_id: int | None,
    now: datetime,
) -> ConnectorAccount:
    check_name(name)
    stored = check_config(
        session, org_id=org_id, connector=connector, owner_user_id=owner_user_id, config=config
    )
    if find_account(session, org_id, name) is not None:
        raise ConflictError(f"an account named '{name}' already exists; pick another name or change that one")
    row = ConnectorAccount(
        org_id=org_id,
        name=name,
        connector=connector,
        owner_user_id=owner_user_id,
        config=stored,
        enabled=True,
        created_by_user_id=by_user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # added by a concurrent request since the check
        raise ConflictError(f"an account named '{name}' already exists") from None
    return row


def update_account(
    session: Session,
    row: ConnectorAccount,
    *,
    config: Mapping[str, Any] | None = None,
    enabled: bool | None = None,
    now: datetime,
) -> ConnectorAccount:
    if config is not None:
        row.config = check_config(
            session,
            org_id=row.org_id,
            connector=row.connector,
            owner_user_id=row.owner_user_id,
            config=config,
        )
    if enabled is not None:
        row.enabled = enabled
    row.updated_at = now
    session.flush()
    return row


def find_account(session: Session, org_id: int, name: str) -> ConnectorAccount | None:
    query = select(ConnectorAccount).where(ConnectorAccount.org_id == org_id, ConnectorAccount.name == name)
    return session.scalars(query).first()


def get_account(session: Session, org_id: int, name: str) -> ConnectorAccount:
    row = find_account(session, org_id, name)
    if row is None:
        raise NotFoundError(f"no account named '{name}'; `meshclaw accounts list` shows yours")
    return row


def list_accounts(
    session: Session, org_id: int, *, visible_to_user_id: int | None = None
) -> list[ConnectorAccount]:
    """Every account of the organization, or (with `visible_to_user_id`) that person's own accounts and
    the organization's shared ones."""
    query = select(ConnectorAccount).where(ConnectorAccount.org_id == org_id)
    if visible_to_user_id is not None:
        query = query.where(
            or_(
                ConnectorAccount.owner_user_id == visible_to_user_id,
                ConnectorAccount.owner_user_id.is_(None),
            )
        )
    return list(session.scalars(query.order_by(ConnectorAccount.name)).all())


def usable_by(row: ConnectorAccount, user_id: int) -> bool:
    """Whether agents of this person may act through the account: their own, or the organization's."""
    return row.enabled and (row.owner_user_id is None or row.owner_user_id == user_id)


def open_account(session: Session, vault: Vault, row: ConnectorAccount) -> Account[AccountConfig]:
    """The account with its secrets decrypted (the owner's secret of that name, else the organization's),
    its config validated by the connector's schema. Raises `AccountError` saying what to fix."""
    schema = load(row.connector).config

    def reveal(path: str, value: Any) -> Any:
        if not is_reference(value):
            return value
        name = str(value).removeprefix(PREFIX)
        owners = (row.owner_user_id, None) if row.owner_user_id is not None else (None,)
        for owner in owners:
            try:
                return vault.get(session, org_id=row.org_id, owner_user_id=owner, name=name).reveal()
            except NotFoundError:
                continue
        raise AccountError(
            f"account '{row.name}' needs the vault secret '{name}' ({path}), which is missing: store it "
            f"with `meshclaw vault set {name}`"
        )

    resolved = map_secrets(schema, row.config, reveal)
    try:
        config = schema.model_validate(resolved)
    except ValidationError as exc:
        # Never echo the input: it holds the decrypted secrets.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise AccountError(
            f"account '{row.name}' has an invalid {row.connector} config: {problems}"
        ) from None
    return Account(name=row.name, connector=row.connector, owner_user_id=row.owner_user_id, config=config)
