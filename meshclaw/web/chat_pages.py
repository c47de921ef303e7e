"""/agents/{id}/chat: chat with your agent. Each message starts an attended run (meshclaw.runs.chat); the
reply appears when the run ends, by the same HTMX polling as the run page's live view (the turn's panel asks
for itself every second while its run is active, then stops). Only those who may start the agent's runs
(its owner, admins) may chat with it."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from meshclaw.api.deps import Context
from meshclaw.api.row_ids import RowId
from meshclaw.api.runs import engine_of
from meshclaw.errors import InvalidInputError, NotFoundError
from meshclaw.runs import chat, history, store
from meshclaw.web.deps import FormActor, PageViewer
from meshclaw.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/agents/{agent_id}/chat")
def chat_page(agent_id: RowId, request: Request, viewer: PageViewer, context: Context) -> Response:
    with context.db.session() as session:
        agent = history.authorize_agent(session, viewer.principal, agent_id, "update")
        turns = chat.turns(session, agent_id=agent_id, user_id=viewer.principal.user_id)
    return render(request, "agent_chat.html", agent=agent, turns=turns, error=None, draft="")


@router.post("/agents/{agent_id}/chat")
async def send_message(
    agent_id: RowId,
    request: Request,
    viewer: FormActor,
    context: Context,
    message: Annotated[str, Form(max_length=chat.MAX_MESSAGE_CHARS * 2)] = "",
) -> Response:
    engine = engine_of(request)
    principal = viewer.principal

    def start() -> None:
        with context.db.session() as session:
            history.authorize_agent(session, principal, agent_id, "update")
            text = chat.clean_message(message)
            earlier = chat.turns(
                session, agent_id=agent_id, user_id=principal.user_id, limit=chat.CONTEXT_TURNS
            )
        given = chat.chat_input(earlier, text)
        # "untrusted" is how a trigger says the run starts tainted (runs/workflow.py `_begin`).
        tainted = {"untrusted": True} if given.untrusted else {}
        engine.start_run(
            agent_id,
            trigger_kind="chat",
            trigger_detail={"message": text, **tainted},
            input_text=given.text,
            conversation=given.conversation,
            mode="attended",
            started_by_user_id=principal.user_id,
        )

    try:
        await asyncio.to_thread(start)
    except InvalidInputError as exc:
        with context.db.session() as session:
            agent = history.authorize_agent(session, principal, agent_id, "update")
            turns = chat.turns(session, agent_id=agent_id, user_id=principal.user_id)
        return render(request, "agent_chat.html", agent=agent, turns=turns, error=exc.message, draft=message,
                      status=exc.status)  # fmt: skip
    return RedirectResponse(f"/agents/{agent_id}/chat#latest", status_code=303)


@router.get("/agents/{agent_id}/chat/turns/{run_id}")
def turn_panel(
    agent_id: RowId, run_id: str, request: Request, viewer: PageViewer, context: Context
) -> Response:
    with context.db.session() as session:
        history.authorize_agent(session, viewer.principal, agent_id, "update")
        run = history.authorized_run(session, viewer.principal, run_id, "read")
        if run.agent_id != agent_id or run.trigger_kind != "chat":
            raise NotFoundError(f"run {run_id} is not a message to agent {agent_id}")
        turn = chat.turn_of(run, store.untrusted_sources(session, [run.id]).get(run.id, ()))
    return render(request, "_chat_turn.html", agent_id=agent_id, turn=turn)
