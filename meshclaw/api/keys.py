"""/api/v1/keys: API keys. The secret appears once, in the creation response."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from meshclaw.api.audit_trail import record_admin_action
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.row_ids import RowId, RowIdField, RowIdQuery
from meshclaw.db.models import ApiKey
from meshclaw.errors import NotFoundError, PermissionDeniedError
from meshclaw.identity import store
from meshclaw.identity.authorize import Resource, authorize, is_allowed, reach
from meshclaw.identity.principal import KeyScope

router = APIRouter(prefix="/keys", tags=["keys"])


class KeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str = Field(description="Shown in lists to tell keys apart; the key reads mc_<prefix>_…")
    owner_user_id: int | None
    scopes: list[KeyScope]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="The secret. It is shown only in this response; store it now.")


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=200)
    user_id: RowIdField | None = Field(
        default=None, description="Owner; defaults to the caller. Admins only for others."
    )
    scopes: list[KeyScope] | None = Field(default=None, description="Defaults to every scope")
    expires_at: datetime | None = None


def _resource(key: ApiKey) -> Resource:
    return Resource(kind="api_key", id=key.id, owner_user_id=key.owner_user_id)


@router.get("", response_model=list[KeyOut])
def list_keys(
    principal: CurrentPrincipal, context: Context, user_id: RowIdQuery | None = None
) -> list[KeyOut]:
    granted = reach(principal, "read", "api_key")
    if granted is None:
        raise PermissionDeniedError("your role does not allow listing API keys")
    owner = user_id if granted == "all" else principal.user_id
    with context.db.session() as session:
        return [
            KeyOut.model_validate(k) for k in store.list_keys(session, principal.org_id, owner_user_id=owner)
        ]


@router.post("", response_model=KeyCreated, status_code=201)
def create_key(body: KeyCreate, principal: CurrentPrincipal, context: Context) -> KeyCreated:
    owner = body.user_id or principal.user_id
    authorize(principal, "create", Resource(kind="api_key", owner_user_id=owner))
    scopes = set(body.scopes) if body.scopes else None
    if principal.key_scopes is not None:
        # A key can only hand on the power it has: otherwise an api:write key could mint a gateway key.
        scopes = scopes if scopes is not None else set(principal.key_scopes)
        extra = scopes - principal.key_scopes
        if extra:
            raise PermissionDeniedError(
                f"this API key lacks the scope(s) {', '.join(sorted(extra))}, so it cannot create a key "
                "with them; ask for fewer scopes or sign in to the web UI",
            )
    with context.db.session() as session:
        key, secret = store.create_key(
            session,
            org_id=principal.org_id,
            owner_user_id=owner,
            name=body.name,
            scopes=sorted(s.value for s in scopes) if scopes else None,
            expires_at=body.expires_at,
            now=context.clock.now(),
        )
        record_admin_action(
            context,
            session,
            principal,
            kind="admin.key_created",
            target=f"api_key:{key.id}",
            arguments={"owner_user_id": key.owner_user_id, "name": key.name, "scopes": list(key.scopes)},
        )
        return KeyCreated.model_validate({**KeyOut.model_validate(key).model_dump(), "key": secret})


@router.delete("/{key_id}", response_model=KeyOut)
def revoke_key(key_id: RowId, principal: CurrentPrincipal, context: Context) -> KeyOut:
    """Revoke a key. It stays listed, with `revoked_at` set, so its usage history keeps its name."""
    with context.db.session() as session:
        try:
            key = store.get_key(session, principal.org_id, key_id)
        except NotFoundError:
            key = None
        if key is None or not is_allowed(principal, "read", _resource(key)):
            raise NotFoundError(f"API key {key_id} does not exist or is not visible to you")
        authorize(principal, "delete", _resource(key))
        revoked = store.revoke_key(session, key, now=context.clock.now())
        record_admin_action(
            context,
            session,
            principal,
            kind="admin.key_revoked",
            target=f"api_key:{key.id}",
            arguments={"owner_user_id": key.owner_user_id, "name": key.name},
        )
        return KeyOut.model_validate(revoked)
