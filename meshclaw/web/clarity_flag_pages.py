"""/clarity/flags: patterns to review (the detector's weekly flags), and their review.

Admins and auditors see every flag and mark it confirmed or dismissed with a note; everyone else sees
only the flags about themselves (`clarity.access.flag_reach`). Flags are worded as patterns to look
at, with their signals against the peer baseline, never as accusations, and never appear on a
leaderboard. The review form is a plain post with a redirect back, so it works without JavaScript.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from meshclaw.api.deps import Context
from meshclaw.clarity import access, views
from meshclaw.clarity.flag_store import get_flag, review_flag
from meshclaw.errors import NotFoundError
from meshclaw.identity.authorize import Resource, is_allowed
from meshclaw.web.clarity_builders import Ask, flag_table
from meshclaw.web.clarity_page import RangeQuery, show
from meshclaw.web.deps import FormActor, PageViewer, safe_next

router = APIRouter(include_in_schema=False)

STATUS_WORDS = {"open": "to review", "confirmed": "confirmed", "dismissed": "dismissed"}


def _flags(ask: Ask) -> dict[str, Any]:
    reach = access.flag_reach(ask.principal)
    _, stored = views.flags(
        ask.session,
        ask.principal,
        since=ask.window.since,
        until=ask.window.until,
        now=ask.context.clock.now(),
    )
    return {
        "stored": stored,
        "table": flag_table(ask, stored),
        "everyone": reach.everyone,
        "may_review": is_allowed(ask.principal, "update", Resource(kind="clarity_flag")),
        "status_words": STATUS_WORDS,
    }


@router.get("/clarity/flags")
def flags_page(request: Request, viewer: PageViewer, context: Context, params: RangeQuery) -> Response:
    return show(request, viewer, context, params, "clarity/flags.html", _flags, title="Patterns to review")


@router.post("/clarity/flags/{flag_id}/review")
def review(
    flag_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    viewer: FormActor,
    context: Context,
    status: Annotated[str, Form(max_length=20)],
    note: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form(max_length=2000)] = "/clarity/flags",
) -> Response:
    access.may_review(viewer.principal)
    with context.db.session() as session:
        if get_flag(session, flag_id) is None:
            raise NotFoundError(f"no flag with id {flag_id}")
        review_flag(
            session,
            flag_id,
            status,
            note=note.strip() or None,
            by_user_id=viewer.principal.user_id,
            now=context.clock.now(),
        )
    target = safe_next(back)
    return RedirectResponse(
        target if target.startswith("/clarity/flags") else "/clarity/flags", status_code=303
    )
