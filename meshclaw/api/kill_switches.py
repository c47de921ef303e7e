"""/api/v1/kill-switches: stop every run of one agent, one person's agents, or the whole organization.

Who may pull which switch (`identity.authorize`, no new permission): the organization's needs `manage` on
the organization (admins); a person's needs `update` on that person (themselves; admins anyone); an
agent's needs `update` on the agent (its owner; admins any). A switch someone else engaged is released
only by an admin, so an owner cannot undo what an admin stopped.

Engaging and releasing are audited (`admin.kill_switch_engaged`, `admin.kill_switch_released`) in the same
transaction as the change; `engage_switch` and `release_switch` are what the API, the web pages and the
CLI share. Everyone may list the switches: knowing that one is on is what explains a stopped agent.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from meshclaw.agents import service
from meshclaw.api.audit_trail import record_admin_action
from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.row_ids import RowId, parse_row_id
from meshclaw.context import AppContext
from meshclaw.db.models import KillSwitch
from meshclaw.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from meshclaw.identity import store as identity_store
from meshclaw.identity.authorize import Resource, authorize, is_allowed
from meshclaw.identity.principal import Principal
from meshclaw.runs import kill_switches
from meshclaw.runs.engine import RunEngine
from meshclaw.runs.kill_switches import Engaged, Scope

router = APIRouter(prefix="/kill-switches", tags=["kill switches"])


class SwitchOut(BaseModel):
    id: int
    scope: Scope = Field(description="org, user (every agent the person owns) or agent")
    target_id: int | None = Field(description="The user's or agent's id; null for org")
    label: str = Field(description="How messages name the switch")
    reason: str
    engaged: bool
    engaged_by_user_id: int | None = Field(description="null: the server's shell (the CLI)")
    engaged_at: datetime
    released_at: datetime | None
    released_by_user_id: int | None


class EngagedOut(SwitchOut):
    stopped_run_ids: list[str] = Field(description="The active runs this switch ended (status cancelled)")


class SwitchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Scope
    target: int | str | None = Field(
        default=None, description="user: an email or id; agent: the agent's id; org: leave out"
    )
    reason: str = Field(default="", max_length=2000, description="Why: shown to the owners it stops")


def switch_out(session: Session, switch: KillSwitch) -> SwitchOut:
    return SwitchOut(
        id=switch.id,
        scope=switch.scope,  # only SCOPES are ever stored
        target_id=switch.target_id,
        label=kill_switches.label(session, switch),
        reason=switch.reason,
        engaged=switch.released_at is None,
        engaged_by_user_id=switch.engaged_by_user_id,
        engaged_at=switch.engaged_at,
        released_at=switch.released_at,
        released_by_user_id=switch.released_by_user_id,
    )


def resolve_target(session: Session, org_id: int, scope: Scope, target: int | str | None) -> int | None:
    """The target's id: a user by email or id, an agent by id; None for the organization."""
    if scope == "org":
        if target is not None:
            raise InvalidInputError("an org-wide switch has no target; leave 'target' out", field="target")
        return None
    if target is None or str(target).strip() == "":
        raise InvalidInputError(f"a {scope} switch needs a target ({scope} id)", field="target")
    text = str(target).strip()
    if scope == "user" and not text.isdigit():
        user = identity_store.user_by_email(session, org_id, text)
        if user is None:
            raise NotFoundError(f"no user with email {text}")
        return user.id
    return parse_row_id(text, "target")


def _authorize(session: Session, principal: Principal, scope: Scope, target_id: int | None) -> None:
    if scope == "org":
        authorize(principal, "manage", Resource(kind="organization"))
    elif scope == "user":
        assert target_id is not None
        user = identity_store.get_user(session, principal.org_id, target_id)
        authorize(
            principal,
            "update",
            Resource(kind="user", id=user.id, owner_user_id=user.id, team_id=user.team_id),
        )
    else:
        assert target_id is not None
        service.visible_agent(session, principal.org_id, principal, target_id, action="update")


def engage_switch(
    context: AppContext,
    session: Session,
    principal: Principal | None,
    *,
    scope: Scope,
    target_id: int | None,
    reason: str,
    org_id: int,
) -> Engaged:
    """Authorize (`principal` None: the CLI), engage, and audit, in the caller's transaction."""
    if principal is not None:
        _authorize(session, principal, scope, target_id)
    elif scope == "user" and target_id is not None:
        identity_store.get_user(session, org_id, target_id)  # 404 for a person who does not exist
    elif scope == "agent" and target_id is not None:
        service.visible_agent(session, org_id, None, target_id)
    engaged = kill_switches.engage(
        session, org_id=org_id, scope=scope, target_id=target_id, reason=reason,
        by_user_id=principal.user_id if principal else None, now=context.clock.now(),
    )  # fmt: skip
    switch = engaged.switch
    record_admin_action(
        context, session, principal, kind="admin.kill_switch_engaged", target=f"kill_switch:{switch.id}",
        arguments={"scope": scope, "target_id": target_id, "reason": switch.reason,
                   "stopped_runs": len(engaged.stopped_run_ids)},
    )  # fmt: skip
    return engaged


def release_switch(
    context: AppContext, session: Session, principal: Principal | None, *, switch_id: int, org_id: int
) -> KillSwitch:
    switch = kill_switches.get(session, org_id, switch_id)
    if principal is not None:
        _authorize(session, principal, switch.scope, switch.target_id)  # type: ignore[arg-type]
        others = switch.engaged_by_user_id != principal.user_id
        if others and not is_allowed(principal, "manage", Resource(kind="organization")):
            raise PermissionDeniedError("only an admin may release a kill switch someone else engaged")
    kill_switches.release(
        session, switch, by_user_id=principal.user_id if principal else None, now=context.clock.now()
    )
    record_admin_action(
        context, session, principal, kind="admin.kill_switch_released", target=f"kill_switch:{switch.id}",
        arguments={"scope": switch.scope, "target_id": switch.target_id},
    )  # fmt: skip
    return switch


async def stop_here(request: Request, engaged: Engaged) -> None:
    """Stop the switch's runs executing in this process now (others see it within a second)."""
    engine = getattr(request.app.state, "runs", None)
    if isinstance(engine, RunEngine):
        await engine.kill(engaged.stopped_run_ids)


@router.get("", response_model=list[SwitchOut])
def list_switches(principal: CurrentPrincipal, context: Context, engaged: bool = False) -> list[SwitchOut]:
    """Switches newest first, released ones included unless `engaged=true`."""
    authorize(principal, "read", Resource(kind="organization"))
    with context.db.session() as session:
        rows = (
            kill_switches.engaged(session, principal.org_id)
            if engaged
            else kill_switches.history(session, principal.org_id, limit=200)
        )
        return [switch_out(session, row) for row in rows]


@router.post("", response_model=EngagedOut, status_code=201)
async def engage(
    body: SwitchIn, principal: CurrentPrincipal, context: Context, request: Request
) -> EngagedOut:
    """Engage a switch: active runs in its scope end `cancelled` naming it, running ones before their next
    tool call; new and scheduled runs do not start until it is released. 409 if it is engaged already."""

    def write() -> tuple[EngagedOut, Engaged]:
        with context.db.session() as session:
            target_id = resolve_target(session, principal.org_id, body.scope, body.target)
            engaged = engage_switch(
                context, session, principal, scope=body.scope, target_id=target_id, reason=body.reason,
                org_id=principal.org_id,
            )  # fmt: skip
            shown = EngagedOut(
                **switch_out(session, engaged.switch).model_dump(), stopped_run_ids=engaged.stopped_run_ids
            )
            return shown, engaged

    shown, engaged = await asyncio.to_thread(write)
    await stop_here(request, engaged)
    return shown


@router.post("/{switch_id}/release", response_model=SwitchOut)
def release(switch_id: RowId, principal: CurrentPrincipal, context: Context) -> SwitchOut:
    """Release a switch: its agents may run again (runs it stopped stay cancelled)."""
    with context.db.session() as session:
        switch = release_switch(context, session, principal, switch_id=switch_id, org_id=principal.org_id)
        return switch_out(session, switch)


def covering_out(session: Session, *, org_id: int, agent_id: int, owner_user_id: int) -> SwitchOut | None:
    """The engaged switch that stops this agent (for its page), or None."""
    switch = kill_switches.covering(session, org_id=org_id, agent_id=agent_id, owner_user_id=owner_user_id)
    return None if switch is None else switch_out(session, switch)
