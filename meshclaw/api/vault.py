"""/api/v1/vault/secrets: store, list and delete encrypted secrets. No endpoint ever returns a value:
the connector layer reads them in-process through `meshclaw.vault`."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from meshclaw.api.audit_trail import record_admin_action
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.row_ids import RowId, RowIdField
from meshclaw.db.models.vault import VaultSecret
from meshclaw.errors import NotFoundError
from meshclaw.identity import store
from meshclaw.identity.authorize import Resource, authorize, is_allowed, reach
from meshclaw.vault.store import Vault, delete_secret, get_secret, list_secrets, owner_of

router = APIRouter(prefix="/vault/secrets", tags=["vault"])


class SecretOut(BaseModel):
    """Metadata only."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    owner: str = Field(description="org, or user:<id>")
    owner_user_id: int | None
    purpose: str | None
    version: int = Field(description="1 when created, +1 each time the value was replaced")
    kek_id: str = Field(description="Fingerprint of the key-encryption key that wraps its data key")
    created_at: datetime
    updated_at: datetime


class SecretCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    value: SecretStr = Field(description="Stored encrypted; never returned")
    purpose: str | None = Field(default=None, max_length=100, description="e.g. the connector: slack")
    owner_user_id: RowIdField | None = Field(
        default=None, description="Defaults to the caller; admins may name another"
    )
    org: bool = Field(default=False, description="Owned by the organization (admins only)")


def _resource(row: VaultSecret) -> Resource:
    return Resource(kind="vault_secret", id=row.id, owner_user_id=row.owner_user_id)


@router.get("", response_model=list[SecretOut])
def list_vault_secrets(principal: CurrentPrincipal, context: Context) -> list[SecretOut]:
    granted = reach(principal, "read", "vault_secret")
    if granted is None:
        authorize(principal, "read", Resource(kind="vault_secret"))
    owners = None if granted == "all" else [owner_of(principal.user_id)]
    with context.db.session() as session:
        return [
            SecretOut.model_validate(row) for row in list_secrets(session, principal.org_id, owners=owners)
        ]


@router.post("", response_model=SecretOut, status_code=201)
def create_vault_secret(body: SecretCreate, principal: CurrentPrincipal, context: Context) -> SecretOut:
    """Create a secret, or replace the value of the caller's (or the named owner's) secret of that name."""
    owner = None if body.org else (body.owner_user_id or principal.user_id)
    authorize(principal, "create", Resource(kind="vault_secret", owner_user_id=owner))
    value = body.value.get_secret_value()
    with context.db.session() as session:
        if owner is not None and owner != principal.user_id:
            store.get_user(session, principal.org_id, owner)  # 404 for a person not in the organization
        row, created = Vault.for_data_dir(context.settings.data_dir).put(
            session,
            org_id=principal.org_id,
            owner_user_id=owner,
            name=body.name,
            value=value,
            purpose=body.purpose,
            by_user_id=principal.user_id,
            now=context.clock.now(),
        )
        record_admin_action(
            context,
            session,
            principal,
            kind="admin.vault_secret_created" if created else "admin.vault_secret_rotated",
            target=f"vault_secret:{row.id}",
            arguments={"name": row.name, "owner": row.owner, "purpose": row.purpose},
            secret_values=(value,),
        )
        return SecretOut.model_validate(row)


@router.delete("/{secret_id}", status_code=204)
def delete_vault_secret(secret_id: RowId, principal: CurrentPrincipal, context: Context) -> None:
    with context.db.session() as session:
        try:
            row: VaultSecret | None = get_secret(session, principal.org_id, secret_id)
        except NotFoundError:
            row = None
        if row is None or not is_allowed(principal, "read", _resource(row)):
            raise NotFoundError(f"secret {secret_id} does not exist or is not visible to you")
        authorize(principal, "delete", _resource(row))
        target, arguments = f"vault_secret:{row.id}", {"name": row.name, "owner": row.owner}
        delete_secret(session, row)
        record_admin_action(
            context, session, principal, kind="admin.vault_secret_deleted", target=target, arguments=arguments
        )
