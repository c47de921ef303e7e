"""/approvals: the approvals inbox, and /approvals/{id}: one approval with its decision forms.

Each approval shows the exact action the run would take, from the server's record: the tool, its effect
class, every argument in full (a long body is not cut), the gate's reason, the agent and its run. What an
agent wrote is shown as escaped text in `<pre>`: no link is followed and no remote image loaded. The forms
(approve, deny with a note, edit the arguments as JSON then approve) go through the engine's `decide`, the
same path as POST /api/v1/approvals/{id}, so validation, single use and expiry are the API's.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from meshclaw.api.deps import Context
from meshclaw.api.runs import engine_of
from meshclaw.errors import InvalidInputError, MeshclawError
from meshclaw.identity.authorize import Resource, is_allowed
from meshclaw.runs import approval_inbox, approvals
from meshclaw.web.deps import FormActor, PageViewer, Viewer
from meshclaw.web.render import render

router = APIRouter(include_in_schema=False)

NOTICES = {
    "approved": "Approved: the run carries on with this call.",
    "edited": "Approved with your edited arguments: the run carries on with them.",
    "denied": "Denied: the agent is told why.",
}
"""Fixed texts picked by a code in the URL, so a crafted link cannot make the page say anything else."""


def _can_decide(viewer: Viewer, view: approval_inbox.ApprovalView) -> bool:
    resource = Resource(kind="agent", id=view.agent_id, owner_user_id=view.owner_user_id)
    return view.pending and is_allowed(viewer.principal, "update", resource)


def shown_value(value: Any) -> str:
    """An argument as text: a string as it is (newlines kept), anything else as indented JSON."""
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)


def _page(
    request: Request, context: Context, viewer: Viewer, *, error: str | None = None, status: int = 200,
    notice: str | None = None, drafts: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    with context.db.session() as session:
        pending = approval_inbox.list_pending(session, viewer.principal, now=context.clock.now())
    return render(request, "approvals.html", status=status, error=error, notice=notice, approvals=pending,
                  can_decide={view.id: _can_decide(viewer, view) for view in pending}, shown=shown_value,
                  drafts=drafts or {})  # fmt: skip


@router.get("/approvals")
def approvals_page(
    request: Request, viewer: PageViewer, context: Context, notice: str | None = None
) -> Response:
    return _page(request, context, viewer, notice=NOTICES.get(notice or ""))


def _one(
    request: Request, context: Context, viewer: Viewer, approval_id: str, *, error: str | None = None,
    status: int = 200, notice: str | None = None, drafts: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    with context.db.session() as session:
        view = approval_inbox.get(session, viewer.principal, approval_id)
    return render(request, "approval.html", status=status, error=error, notice=notice, approval=view,
                  can_decide={view.id: _can_decide(viewer, view)}, shown=shown_value,
                  drafts=drafts or {})  # fmt: skip


@router.get("/approvals/{approval_id}")
def approval_page(
    approval_id: str, request: Request, viewer: PageViewer, context: Context, notice: str | None = None
) -> Response:
    return _one(request, context, viewer, approval_id, notice=NOTICES.get(notice or ""))


def _edited_args(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            f"the edited arguments are not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})",
            field="args",
        ) from None
    except RecursionError:  # Python's json follows nesting by recursion: a few thousand brackets end it
        raise InvalidInputError("the edited arguments are nested too deeply", field="args") from None
    if not isinstance(value, dict):
        raise InvalidInputError(
            'the edited arguments must be a JSON object, like {"name": "value"}', field="args"
        )
    return value


@router.post("/approvals/{approval_id}")
async def decide(
    approval_id: str,
    request: Request,
    viewer: FormActor,
    context: Context,
    action: Annotated[Literal["approve", "deny", "edit"], Form()],
    note: Annotated[str, Form()] = "",
    args: Annotated[str, Form()] = "",
    back: Annotated[Literal["inbox", "one"], Form()] = "inbox",
) -> Response:
    try:
        edited = _edited_args(args) if action == "edit" else None
        choice = approvals.Choice(approve=action != "deny", note=note or None, args=edited)
        await engine_of(request).decide(viewer.principal, approval_id, choice)
    except MeshclawError as error:
        drafts = {approval_id: args} if action == "edit" else None
        if back == "one":
            return _one(request, context, viewer, approval_id, error=error.message, status=error.status,
                        drafts=drafts)  # fmt: skip
        return _page(request, context, viewer, error=error.message, status=error.status, drafts=drafts)
    code = {"approve": "approved", "edit": "edited", "deny": "denied"}[action]
    target = f"/approvals/{approval_id}" if back == "one" else "/approvals"
    return RedirectResponse(f"{target}?notice={code}", status_code=303)
