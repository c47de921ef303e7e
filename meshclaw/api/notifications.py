"""/api/v1/notifications: the caller's own notifications (a run over budget, a kill switch that stopped
their agents), newest first, and marking them read. Nobody reads another person's."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.notifications import store

router = APIRouter(prefix="/notifications", tags=["notifications"])


class NotificationOut(BaseModel):
    id: int
    kind: str = Field(description="run.budget_exceeded, kill_switch.engaged, ...")
    text: str
    link: str | None = Field(description="A page of the web UI about it, e.g. /runs/<id>")
    created_at: datetime
    read_at: datetime | None


class NotificationsOut(BaseModel):
    unread: int
    items: list[NotificationOut]


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[int] | None = Field(default=None, description="Leave out to mark every notification read")


class ReadOut(BaseModel):
    marked: int


@router.get("", response_model=NotificationsOut)
def list_notifications(
    principal: CurrentPrincipal,
    context: Context,
    unread: bool = False,
    limit: int = Query(default=50, ge=1, le=500),
) -> NotificationsOut:
    with context.db.session() as session:
        items = store.list_for(session, principal.user_id, unread_only=unread, limit=limit)
        count = store.unread_count(session, principal.user_id)
    return NotificationsOut(unread=count, items=[NotificationOut(**vars(item)) for item in items])


@router.post("/read", response_model=ReadOut)
def mark_read(body: ReadIn, principal: CurrentPrincipal, context: Context) -> ReadOut:
    with context.db.session() as session:
        marked = store.mark_read(session, principal.user_id, now=context.clock.now(), ids=body.ids)
    return ReadOut(marked=marked)
