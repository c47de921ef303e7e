"""/api/v1/hooks: agents' inbound webhooks.

`POST /api/v1/hooks/{agent_id}` (the agent's owner or an admin) creates the agent's token, replacing any
previous one, and answers the URL once. `POST /api/v1/hooks/{agent_id}/{token}` needs no other credential:
it publishes a `webhook.received` event for that agent only, with the body's top-level string, number and
boolean fields as the event's fields (what `EventTrigger.match` filters on). A wrong token or agent is
404, the same answer either way.
"""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.row_ids import RowId
from meshclaw.api.runs import engine_of
from meshclaw.errors import InvalidInputError, NotFoundError
from meshclaw.runs import history, webhooks

router = APIRouter(prefix="/hooks", tags=["runs"])


class HookCreated(BaseModel):
    agent_id: int
    url: str = Field(description="POST JSON here to trigger the agent; shown only in this response")


class HookFired(BaseModel):
    runs: list[str] = Field(description="Ids of the runs the event started (empty if no trigger matched)")


@router.post("/{agent_id}", response_model=HookCreated, status_code=201)
def create_hook(agent_id: RowId, principal: CurrentPrincipal, context: Context) -> HookCreated:
    with context.db.session() as session:
        history.authorize_agent(session, principal, agent_id, "update")
        token = webhooks.create_token(session, agent_id, now=context.clock.now())
    return HookCreated(
        agent_id=agent_id, url=f"{context.settings.resolved_public_url}/api/v1/hooks/{agent_id}/{token}"
    )


def _fields(body: bytes) -> dict[str, str]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        raise InvalidInputError("the webhook body must be JSON (an object) or empty") from None
    except RecursionError:  # Python's json follows nesting by recursion: a few thousand brackets end it
        raise InvalidInputError("the webhook body is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidInputError("the webhook body must be a JSON object")
    return {
        str(key): (json.dumps(value) if isinstance(value, bool) else str(value))
        for key, value in data.items()
        if isinstance(value, str | int | float | bool)
    }


@router.post("/{agent_id}/{token}", response_model=HookFired, status_code=202)
async def fire_hook(agent_id: RowId, token: str, request: Request, context: Context) -> HookFired:
    def known() -> bool:
        with context.db.session() as session:
            return webhooks.token_matches(session, agent_id, token)

    if not await asyncio.to_thread(known):
        raise NotFoundError("no such webhook")
    fields = _fields(await request.body())
    fields["agent_id"] = str(agent_id)
    engine = engine_of(request)
    runs = await asyncio.to_thread(engine.publish, "webhook.received", fields)
    return HookFired(runs=runs)
