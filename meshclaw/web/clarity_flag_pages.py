"""/clarity/flags: patterns to review (the detector's weekly flags), and their review.

Admins and auditors see every flag and mark it confirmed or dismissed with a note; everyone else sees
only the flags about themselves (`clarity.access.flag_reach`). Flags are worded as patterns to look
at, with their signals against the peer baseline, never as accusations, and never appear on a
leaderboard.

A page lists up to `PER_PAGE` flags as one-line rows, each opening (`<details>`) on its signals,
evidence and review form: a reviewer scans fifty rows, not fifty expanded reports. The review form is a
plain post with a redirect back, so it works without JavaScript; sent by htmx, its answer is the
reviewed row alone, swapped in place, and an event that makes the status tabs fetch their new counts.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from meshclaw.api.clarity_flags import review_audited
from meshclaw.api.deps import Context
from meshclaw.clarity import access, views
from meshclaw.identity.authorize import Resource, is_allowed
from meshclaw.web.clarity_builders import Ask, flag_table
from meshclaw.web.clarity_page import RangeQuery, show
from meshclaw.web.deps import FormActor, PageViewer, safe_next
from meshclaw.web.render import is_htmx, render

router = APIRouter(include_in_schema=False)

STATUS_WORDS = {"open": "to review", "confirmed": "confirmed", "dismissed": "dismissed"}
PER_PAGE = 50
"""Flags per page: half a year of a large organization holds thousands."""


def _flags(ask: Ask, *, status: str | None, page: int) -> dict[str, Any]:
    reach = access.flag_reach(ask.principal)
    shown = views.flag_page(
        ask.session,
        ask.principal,
        since=ask.window.since,
        until=ask.window.until,
        now=ask.context.clock.now(),
        status=status,
        page=page,
        per_page=PER_PAGE,
    )
    # Links keep the range, the status shown and the page (a review returns to where it was made).
    here = ask.window.query() + (f"&status={status}" if status else "")
    return {
        "stored": shown.flags,
        "shown": shown,
        "shown_total": shown.counts.get(shown.status, 0)
        if shown.status is not None
        else sum(shown.counts.values()),
        "here": here,
        "back": f"/clarity/flags?{here}&page={shown.page}",
        "table": flag_table(ask, shown.flags),  # for its download links: the downloads hold every flag
        "everyone": reach.everyone,
        "may_review": is_allowed(ask.principal, "update", Resource(kind="clarity_flag")),
        "status_words": STATUS_WORDS,
        "per_page": PER_PAGE,
    }


@router.get("/clarity/flags")
def flags_page(
    request: Request,
    viewer: PageViewer,
    context: Context,
    params: RangeQuery,
    status: Annotated[str, Query(max_length=20, description="open, confirmed or dismissed")] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    build = partial(_flags, status=status.strip() or None, page=page)
    return show(request, viewer, context, params, "clarity/flags.html", build, title="Patterns to review")


@router.post("/clarity/flags/{flag_id}/review")
def review(
    request: Request,
    flag_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    viewer: FormActor,
    context: Context,
    status: Annotated[str, Form(max_length=20)],
    note: Annotated[str, Form(max_length=2000)] = "",
    back: Annotated[str, Form(max_length=2000)] = "/clarity/flags",
) -> Response:
    access.may_review(viewer.principal)
    with context.db.session() as session:
        reviewed = review_audited(
            context, session, viewer.principal, flag_id, status, note=note.strip() or None
        )
    target = safe_next(back)
    target = target if target.startswith("/clarity/flags") else "/clarity/flags"
    if is_htmx(request) and access.flag_reach(viewer.principal).everyone:
        return render(
            request,
            "clarity/_flag.html",
            headers={"HX-Trigger": "flag-reviewed"},
            item=reviewed,
            reviewed_now=True,
            may_review=True,
            back=target,
            status_words=STATUS_WORDS,
        )
    return RedirectResponse(target, status_code=303)
