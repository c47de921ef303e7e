"""/api/v1/connectors and /api/v1/accounts: the connectors this installation has, and the accounts agents
act through.

A person adds and changes their own accounts; organization accounts (a shared deploy target) are admins'.
Everyone sees their own accounts and the organization's (configs hold `vault:NAME` references, never a
secret). Every change is an audit record in the same transaction.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.accounts import store
from meshclaw.accounts.tools import NoAccounts
from meshclaw.api.audit_trail import record_admin_action
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.runs import engine_of
from meshclaw.connectors.catalog import all_connectors, load
from meshclaw.connectors.contract import Account, AccountError, InboundRequest
from meshclaw.context import AppContext
from meshclaw.db.models.connectors import ConnectorAccount
from meshclaw.db.models.identity import User
from meshclaw.errors import NotFoundError
from meshclaw.identity.authorize import Action, Resource, authorize, is_allowed, reach
from meshclaw.identity.principal import Principal
from meshclaw.runs.engine import RunEngine, RunsUnavailableError
from meshclaw.vault.store import Vault

router = APIRouter(tags=["accounts"])

CHECK_TIMEOUT_S = 20.0


class ConnectorToolOut(BaseModel):
    name: str
    effect: str
    scopes: list[str]
    description: str


class ConnectorEventsOut(BaseModel):
    name: str
    emits: list[str]


class ConnectorOut(BaseModel):
    name: str
    title: str
    tools: list[ConnectorToolOut]
    events: list[ConnectorEventsOut]
    inbound: bool = Field(description="Whether it receives HTTP requests at /api/v1/accounts/{name}/inbound")
    chat_approvals: bool
    conditions: list[str]
    config_schema: dict[str, Any] = Field(description="JSON Schema of an account's config")


class AccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    connector: str
    owner_user_id: int | None = Field(description="None: the organization's account")
    config: dict[str, Any] = Field(description="Secrets appear as vault:NAME references")
    enabled: bool
    created_at: datetime
    updated_at: datetime


class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=63, description="e.g. work-mail")
    connector: str = Field(min_length=1, max_length=32)
    config: dict[str, Any]
    organization: bool = Field(default=False, description="An organization account (admins only)")


class AccountPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: dict[str, Any] | None = None
    enabled: bool | None = None


class CheckOut(BaseModel):
    ok: bool
    detail: str


@router.get("/connectors", response_model=list[ConnectorOut])
def list_connectors(principal: CurrentPrincipal) -> list[ConnectorOut]:
    del principal  # any signed-in person may see what can be connected
    shown = []
    for connector in all_connectors():
        tools = connector.tools(NoAccounts())
        shown.append(
            ConnectorOut(
                name=connector.name,
                title=connector.title,
                tools=[
                    ConnectorToolOut(
                        name=t.name, effect=t.effect.value, scopes=list(t.scopes), description=t.description
                    )
                    for t in tools
                ],
                events=[ConnectorEventsOut(name=e.name, emits=list(e.emits)) for e in connector.events],
                inbound=connector.inbound is not None,
                chat_approvals=connector.ask_approval is not None,
                conditions=sorted(connector.conditions),
                config_schema=connector.config.model_json_schema(),
            )
        )
    return shown


def account_resource(session: Session, row: ConnectorAccount) -> Resource:
    owner = session.get(User, row.owner_user_id) if row.owner_user_id is not None else None
    return Resource(kind="connector_account", owner_user_id=row.owner_user_id,
                    team_id=owner.team_id if owner else None)  # fmt: skip


def visible_account(
    session: Session, principal: Principal, name: str, action: Action = "read"
) -> ConnectorAccount:
    """The account if the principal may see it (404 otherwise: names leak nothing), authorized for
    `action`. The organization's accounts are visible to everyone, changeable by admins."""
    row = store.find_account(session, principal.org_id, name)
    resource = account_resource(session, row) if row is not None else None
    if (
        row is None
        or resource is None
        or not (row.owner_user_id is None or is_allowed(principal, "read", resource))
    ):
        raise NotFoundError(f"no account named '{name}' is visible to you")
    if action != "read":
        authorize(principal, action, resource)
    return row


@router.get("/accounts", response_model=list[AccountOut])
def list_accounts(principal: CurrentPrincipal, context: Context) -> list[AccountOut]:
    everyone = reach(principal, "read", "connector_account") == "all"
    with context.db.session() as session:
        rows = store.list_accounts(session, principal.org_id,
                                   visible_to_user_id=None if everyone else principal.user_id)  # fmt: skip
        return [AccountOut.model_validate(row) for row in rows]


@router.post("/accounts", response_model=AccountOut, status_code=201)
def add_account(
    body: AccountIn, principal: CurrentPrincipal, context: Context, request: Request
) -> AccountOut:
    owner_user_id = None if body.organization else principal.user_id
    with context.db.session() as session:
        owner = session.get(User, owner_user_id) if owner_user_id is not None else None
        authorize(principal, "create", Resource(kind="connector_account", owner_user_id=owner_user_id,
                                                team_id=owner.team_id if owner else None))  # fmt: skip
        row = store.add_account(session, org_id=principal.org_id, name=body.name, connector=body.connector,
                                owner_user_id=owner_user_id, config=body.config, by_user_id=principal.user_id,
                                now=context.clock.now())  # fmt: skip
        record_admin_action(context, session, principal, kind="admin.account_added", target=f"account:{row.name}",
                            arguments={"connector": row.connector, "owner_user_id": row.owner_user_id,
                                       "config": row.config})  # fmt: skip
        added = AccountOut.model_validate(row)
    _poke_hub(request)
    return added


@router.get("/accounts/{name}", response_model=AccountOut)
def show_account(name: str, principal: CurrentPrincipal, context: Context) -> AccountOut:
    with context.db.session() as session:
        return AccountOut.model_validate(visible_account(session, principal, name))


@router.patch("/accounts/{name}", response_model=AccountOut)
def change_account(
    name: str, body: AccountPatch, principal: CurrentPrincipal, context: Context, request: Request
) -> AccountOut:
    with context.db.session() as session:
        row = visible_account(session, principal, name, "update")
        store.update_account(session, row, config=body.config, enabled=body.enabled, now=context.clock.now())
        record_admin_action(context, session, principal, kind="admin.account_changed", target=f"account:{row.name}",
                            arguments={"config": row.config, "enabled": row.enabled})  # fmt: skip
        changed = AccountOut.model_validate(row)
    _poke_hub(request)
    return changed


@router.delete("/accounts/{name}", status_code=204)
def remove_account(name: str, principal: CurrentPrincipal, context: Context, request: Request) -> Response:
    with context.db.session() as session:
        row = visible_account(session, principal, name, "delete")
        session.delete(row)
        record_admin_action(context, session, principal, kind="admin.account_removed", target=f"account:{name}",
                            arguments={"connector": row.connector})  # fmt: skip
    _poke_hub(request)
    return Response(status_code=204)


def _poke_hub(request: Request) -> None:
    """After the change is committed: the server's event sources follow it now, not at the next rescan."""
    engine = getattr(request.app.state, "runs", None)
    if isinstance(engine, RunEngine) and engine.hub is not None:
        engine.hub.poke()


@router.post("/accounts/{name}/check", response_model=CheckOut)
async def check_account(name: str, principal: CurrentPrincipal, context: Context) -> CheckOut:
    """Proves the account works (logs in, lists something); the answer never holds a secret."""

    def opened() -> Any:
        with context.db.session() as session:
            row = visible_account(session, principal, name, "update")
            return store.open_account(session, Vault.for_data_dir(context.settings.data_dir), row)

    try:
        account = await asyncio.to_thread(opened)
        detail = await asyncio.wait_for(load(account.connector).check(account), CHECK_TIMEOUT_S)
    except AccountError as exc:
        return CheckOut(ok=False, detail=str(exc))
    except TimeoutError:
        return CheckOut(ok=False, detail=f"no answer within {CHECK_TIMEOUT_S:.0f} s; check the host and port")
    except Exception as exc:  # a connector's client error: say it, the message carries no secret
        return CheckOut(ok=False, detail=f"{type(exc).__name__}: {exc}")
    return CheckOut(ok=True, detail=detail)


@router.post("/accounts/{name}/inbound", include_in_schema=True)
async def inbound(name: str, request: Request, context: Context) -> Response:
    """Requests the remote system sends (Slack's Events API and buttons, a signed webhook). No MeshClaw
    credential: the connector verifies the request's signature with the account's secret, and refuses
    (401) what it cannot verify. An unknown account is 404 either way."""
    found = await asyncio.to_thread(_inbound_account, context, name)
    if found is None:
        raise NotFoundError("no such inbound endpoint")
    hub = engine_of(request).hub
    if hub is None:
        raise RunsUnavailableError("this server does not execute runs, so it cannot take events")
    account_id, account = found
    handler = load(account.connector).inbound
    assert handler is not None
    body = await request.body()
    headers = {key.lower(): value for key, value in request.headers.items()}
    reply = await handler(
        account, InboundRequest(headers=headers, body=body, received_at=context.clock.now())
    )
    for event in reply.events:
        await hub.dispatch(account_id, account, event)
    for answer in reply.answers:
        await hub.answer(account, answer)
    if isinstance(reply.body, str):
        return PlainTextResponse(reply.body, status_code=reply.status)
    return JSONResponse(dict(reply.body) if reply.body is not None else {}, status_code=reply.status)


def _inbound_account(context: AppContext, name: str) -> tuple[int, Account[Any]] | None:
    """The enabled account `name` whose connector takes inbound requests, opened; None otherwise (one
    organization per server: the name alone finds it)."""
    with context.db.session() as session:
        rows = session.scalars(select(ConnectorAccount).where(ConnectorAccount.name == name)).all()
        row = rows[0] if len(rows) == 1 else None
        if row is None or not row.enabled or load(row.connector).inbound is None:
            return None
        return row.id, store.open_account(session, Vault.for_data_dir(context.settings.data_dir), row)
