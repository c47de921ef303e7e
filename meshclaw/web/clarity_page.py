"""What every Clarity page shares: the range picker's query parameters, the section links, and
`show`, which picks the range (answering a bad one beside the picker, 400), builds the page's tables in
one database session and renders the template.

Who may see what is not decided here: the builders call `meshclaw.clarity.views`, which raise 403 (the
error page, with no hint of the data) or 404 before anything is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meshclaw.clarity import access
from meshclaw.clarity.people import MIN_TEAM_SIZE
from meshclaw.context import AppContext
from meshclaw.db.models import User
from meshclaw.errors import BadRequestError
from meshclaw.identity.authorize import reach
from meshclaw.identity.principal import Principal
from meshclaw.web.clarity_builders import Ask
from meshclaw.web.clarity_range import MAX_DAYS, PRESETS, pick_range
from meshclaw.web.clarity_tables import cell
from meshclaw.web.deps import Viewer
from meshclaw.web.render import render


@dataclass(frozen=True, kw_only=True)
class RangeParams:
    first: str | None
    last: str | None
    days: str | None


def range_params(
    first: Annotated[str | None, Query(alias="from", description="First day, inclusive")] = None,
    last: Annotated[str | None, Query(alias="to", description="Last day, inclusive")] = None,
    days: Annotated[str | None, Query(description="The last 7, 30 or 90 days")] = None,
) -> RangeParams:
    return RangeParams(first=first, last=last, days=days)


RangeQuery = Annotated[RangeParams, Depends(range_params)]


@dataclass(frozen=True, kw_only=True)
class Section:
    href: str
    label: str


def _my_team_visible(session: Session, principal: Principal, team_id: int) -> bool:
    """Whether "My team" leads to a page rather than a 403: a team of fewer than 5 people is shown
    only to those who may see its people (`clarity.access.team`)."""
    if access.sees_people_of(principal, team_id):
        return True
    size = session.scalar(select(func.count(User.id)).where(User.team_id == team_id, User.active.is_(True)))
    return (size or 0) >= MIN_TEAM_SIZE


def sections(session: Session, viewer: Viewer) -> list[Section]:
    """The Clarity sub-navigation: every role has its own numbers and its own patterns to review."""
    principal = viewer.principal
    links = [Section(href="/clarity", label="Overview"), Section(href="/clarity/me", label="My numbers")]
    if principal.team_id is not None and _my_team_visible(session, principal, principal.team_id):
        links.append(Section(href=f"/clarity/teams/{principal.team_id}", label="My team"))
    links += [
        Section(href="/clarity/models", label="Models and cost"),
        Section(href="/clarity/agents", label="Agents"),
        Section(href="/clarity/flags", label="Patterns to review"),
    ]
    return links


def show(
    request: Request,
    viewer: Viewer,
    context: AppContext,
    params: RangeParams,
    template: str,
    build: Callable[[Ask], dict[str, Any]],
    *,
    title: str,
    team: str | None = None,
    user: str | None = None,
    agent: int | None = None,
) -> Response:
    common: dict[str, Any] = {
        "title": title,
        "presets": PRESETS,
        "max_days": MAX_DAYS,
        "path": request.url.path,
        "cell": cell,
    }
    try:
        window = pick_range(params.first, params.last, params.days, today=context.clock.now().date())
    except BadRequestError as error:
        with context.db.session() as session:
            links = sections(session, viewer)
        return render(
            request,
            "clarity/range_error.html",
            status=400,
            window=None,
            asked=params,
            range_error=error.message,
            sections=links,
            **common,
        )
    with context.db.session() as session:
        ask = Ask(
            session=session,
            context=context,
            principal=viewer.principal,
            window=window,
            team=team,
            user=user,
            agent=agent,
        )
        values = build(ask)
        links = sections(session, viewer)
    return render(
        request, template, window=window, asked=params, range_error=None, sections=links, **common, **values
    )


def scope_words(ask: Ask) -> str:
    """Whose individual numbers an unnamed view sums, in words, for captions."""
    granted = reach(ask.principal, "read", "clarity")
    if granted == "all":
        return "the whole organization"
    if granted == "team":
        return "you and the people of the teams you manage"
    return "your own use"
