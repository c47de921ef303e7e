"""/agents: the viewer's agents (and those they may read), creating one, and one agent with its versions.

A new agent comes from one of three forms on /agents/new: the common fields, a pasted TOML or YAML
definition, or a template. All three end in `agents.service.apply_spec`, as the API and the CLI do, so
the checks and messages are the same; a form shows each problem next to its field. The owner is always
the viewer (admins create agents for others through the API or the CLI). /agents/{id}/edit is the first
form filled in with the current definition, saved like `PUT /api/v1/agents/{id}` (`agent_form` says how
the form is laid over the definition). It carries the version it was filled in from, as a PUT carries
If-Match: if someone saved another version meanwhile, nothing is saved and the page answers 409 with the
form as typed, saying who saved which version when, and how to get their change and make this one again.

The detail page shows the current definition as JSON and a line diff between two versions (difflib over
the pretty JSON: the stored form, so what the diff shows is exactly what changed).
"""

from __future__ import annotations

import difflib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from meshclaw.agents import service, store
from meshclaw.agents.files import WHOLE_DEFINITION, FileFormat, SpecFileError, parse_spec_text, spec_from_data
from meshclaw.agents.memory import dreams as dream_rows
from meshclaw.agents.spec import AgentSpec
from meshclaw.agents.store import AgentRecord, StaleVersionError
from meshclaw.agents.templates import builtin_templates
from meshclaw.api.agents import (
    agent_detail,
    agent_out,
    checks_for,
    create_new,
    current_version,
    record_switch,
    save_version,
)
from meshclaw.api.deps import Context
from meshclaw.api.kill_switches import covering_out
from meshclaw.api.row_ids import RowId
from meshclaw.errors import MeshclawError
from meshclaw.identity.authorize import Resource, authorize, is_allowed
from meshclaw.identity.principal import Principal
from meshclaw.providers.live import LiveRoutes
from meshclaw.web import agent_form
from meshclaw.web.deps import FormActor, PageViewer, Viewer
from meshclaw.web.render import render, when

router = APIRouter(include_in_schema=False)

NOTICES = {
    "created": "Agent created: this is version 1.",
    "updated": "Saved as a new version.",
    "unchanged": "Nothing changed, so no new version was saved.",
    "enabled": "Agent enabled.",
    "disabled": "Agent disabled: it starts no run until enabled again.",
    "engaged": "Kill switch engaged: the agent's runs were stopped and no new run starts until it is released.",
    "released": "Kill switch released: the agent may run again.",
}
"""Fixed texts picked by a code in the URL, so a crafted link cannot make the page say anything else."""


@router.get("/agents")
def agents_page(request: Request, viewer: PageViewer, context: Context) -> Response:
    principal = viewer.principal
    authorize(principal, "read", Resource(kind="agent", owner_user_id=principal.user_id))
    with context.db.session() as session:
        agents = [
            agent_out(agent, current_version(session, agent))
            for agent in service.visible_agents(session, principal.org_id, principal)
        ]
    return render(request, "agents.html", agents=agents, me=principal.user_id)


def _models(request: Request) -> list[str]:
    routes = request.app.state.provider_routes
    assert isinstance(routes, LiveRoutes)
    return [model for model, _ in routes.current().models()]


def _new_page(
    request: Request,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    pasted: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "agent_new.html",
        status=status,
        form=form or {"memory": "on"},
        errors=errors or {},
        error=error,
        pasted=pasted or {"format": "toml", "text": ""},
        models=_models(request),
        defaults=AgentSpec(name="x"),
        choices=agent_form.CHOICES,
        templates=builtin_templates().list(),
    )


@router.get("/agents/new")
def new_agent_page(request: Request, viewer: PageViewer) -> Response:
    principal = viewer.principal
    authorize(principal, "create", Resource(kind="agent", owner_user_id=principal.user_id))
    return _new_page(request)


def _save(request: Request, context: Context, viewer: Viewer, spec: AgentSpec) -> int:
    return create_new(request, context, viewer.principal, spec).agent.id


def _created(agent_id: int) -> Response:
    return RedirectResponse(f"/agents/{agent_id}?notice=created", status_code=303)


@router.post("/agents/new")
async def create_agent_form(request: Request, viewer: FormActor, context: Context) -> Response:
    form = agent_form.read(await request.form())
    try:
        spec = spec_from_data(agent_form.definition(form), source="the form")
        return _created(_save(request, context, viewer, spec))
    except MeshclawError as exc:
        errors, error = _problems(exc)
        return _new_page(request, form=form, errors=errors, error=error, status=exc.status)


def _problems(exc: MeshclawError) -> tuple[dict[str, str], str]:
    """The errors to show next to the form's fields, and the one at the top of the page, which says in
    full those that belong to no field of the form (e.g. dreaming needs memory)."""
    if not isinstance(exc, SpecFileError):
        return ({exc.field: exc.message} if exc.field else {}), exc.message
    errors = {path: why for path, why in reversed(exc.problems) if path in agent_form.FIELDS}
    elsewhere = [
        why if path == WHOLE_DEFINITION else f"{path}: {why}"
        for path, why in exc.problems
        if path not in errors
    ]
    if elsewhere or not exc.problems:
        return errors, "; ".join(elsewhere) or exc.message
    count = len(exc.problems)
    return errors, (
        "the definition has a problem; see the field"
        if count == 1
        else f"the definition has {count} problems"
    )


@router.post("/agents/new/text")
def create_agent_from_text(
    request: Request,
    viewer: FormActor,
    context: Context,
    text: Annotated[str, Form(max_length=1_000_000)] = "",
    format: Annotated[str, Form()] = "toml",
) -> Response:
    fmt: FileFormat = "yaml" if format == "yaml" else "toml"
    pasted = {"format": fmt, "text": text}
    try:
        spec = parse_spec_text(text, fmt, source=f"pasted {fmt.upper()}")
        return _created(_save(request, context, viewer, spec))
    except SpecFileError as exc:
        errors = {"text": "\n".join(exc.errors) if exc.errors else exc.message}
        return _new_page(request, pasted=pasted, errors=errors, error=exc.message, status=exc.status)
    except MeshclawError as exc:
        return _new_page(
            request, pasted=pasted, errors={"text": exc.message}, error=exc.message, status=exc.status
        )


@router.post("/agents/new/template")
async def create_agent_from_template(request: Request, viewer: FormActor, context: Context) -> Response:
    submitted = await request.form()
    name = str(submitted.get("template", ""))
    prefix = "setting."
    values = {
        key.removeprefix(prefix): str(value)
        for key, value in submitted.items()
        if key.startswith(prefix) and str(value).strip()
    }
    try:
        spec = builtin_templates().get(name).spec(str(submitted.get("name", "")).strip(), values)
        return _created(_save(request, context, viewer, spec))
    except MeshclawError as exc:
        errors = {f"template.{name}": exc.message}
        return _new_page(request, errors=errors, error=exc.message, status=exc.status)


def _pretty(spec: dict[str, Any] | None) -> str:
    return json.dumps(spec or {}, indent=2, sort_keys=True, ensure_ascii=False)


@router.get("/agents/{agent_id}")
def agent_page(
    agent_id: RowId,
    request: Request,
    viewer: PageViewer,
    context: Context,
    notice: str | None = None,
    old: int | None = None,
    new: int | None = None,
) -> Response:
    """`old` and `new` pick the two versions to compare; by default the current one and the one before."""
    principal = viewer.principal
    with context.db.session() as session:
        agent = service.visible_agent(session, principal.org_id, principal, agent_id)
        detail = agent_detail(session, agent)
        numbers = [version.number for version in detail.versions]
        authors = store.author_emails(session, (version.created_by_user_id for version in detail.versions))
        diff: list[str] = []
        if len(numbers) > 1:
            new = new if new in numbers else numbers[0]
            old = old if old in numbers else next((n for n in numbers if n < new), numbers[-1])
            before = store.get_version(session, agent.id, old).spec_data
            after = store.get_version(session, agent.id, new).spec_data
            diff = list(
                difflib.unified_diff(
                    _pretty(before).splitlines(),
                    _pretty(after).splitlines(),
                    fromfile=f"version {old}",
                    tofile=f"version {new}",
                    lineterm="",
                )
            )
        can_change = is_allowed(principal, "update", service.agent_resource(agent))
        # The dream diary quotes the agent's memory: shown to those who may read that memory.
        memory = Resource(kind="agent_memory", id=agent.id, owner_user_id=agent.owner_user_id,
                          team_id=agent.owner_team_id)  # fmt: skip
        dreams = (
            dream_rows.list_dreams(session, agent_id=agent.id, limit=3)
            if is_allowed(principal, "read", memory)
            else None
        )
        switch = covering_out(
            session, org_id=agent.org_id, agent_id=agent.id, owner_user_id=agent.owner_user_id
        )
    return render(
        request,
        "agent.html",
        agent=detail,
        authors=authors,
        spec_text=_pretty(detail.spec),
        diff=diff,
        old=old,
        new=new,
        can_change=can_change,
        switch=switch,
        dreams=dreams,
        notice=NOTICES.get(notice or ""),
    )


def _edit_page(
    request: Request,
    agent: AgentRecord,
    form: dict[str, str],
    *,
    opened_from: int | None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    conflict: StaleVersionError | None = None,
    status: int = 200,
) -> Response:
    """`opened_from` goes back in the hidden field: after a refused save it stays the version the person
    started from, so saving the page again is refused again rather than undoing the other change."""
    return render(
        request,
        "agent_edit.html",
        status=status,
        agent=agent,
        form=form,
        opened_from=opened_from,
        opened_from_field=agent_form.OPENED_FROM,
        errors=errors or {},
        error=error,
        conflict=conflict,
        models=_models(request),
        defaults=AgentSpec(name="x"),
        choices=agent_form.CHOICES,
    )


@router.get("/agents/{agent_id}/edit")
def edit_agent_page(agent_id: RowId, request: Request, viewer: PageViewer, context: Context) -> Response:
    principal = viewer.principal
    with context.db.session() as session:
        agent = service.visible_agent(session, principal.org_id, principal, agent_id, action="update")
        current = current_version(session, agent)
    form = agent_form.values_of(current.spec_data) if current is not None else {"name": agent.name}
    return _edit_page(request, agent, form, opened_from=current.number if current is not None else None)


@router.post("/agents/{agent_id}/edit")
async def edit_agent(agent_id: RowId, request: Request, viewer: FormActor, context: Context) -> Response:
    """A new version from the form laid over the current definition (`agent_form`); checked as a whole
    before anything is saved, so a bad value saves nothing, not even the form's valid fields. Refused
    (409) when the version the form was filled in from is no longer current."""
    principal = viewer.principal
    submitted = await request.form()
    form = agent_form.read(submitted)
    with context.db.session() as session:
        agent = service.visible_agent(session, principal.org_id, principal, agent_id, action="update")
        current = current_version(session, agent)
    base = current.spec_data if current is not None else {"name": agent.name}
    opened: int | None = None
    try:
        opened = agent_form.opened_from(submitted)
        spec = spec_from_data(agent_form.definition(form, base=base), source="the form")
        with context.db.session() as session:
            applied = save_version(context, session, principal, agent=agent, spec=spec,
                                   checks=checks_for(request), expected_version=opened)  # fmt: skip
    except MeshclawError as exc:
        shown = {**agent_form.values_of(current.spec_data), **form} if current is not None else form
        if opened is None and current is not None:
            opened = current.number  # the form shown now is filled in from the current version
        if isinstance(exc, StaleVersionError):
            return _edit_page(request, agent, shown, opened_from=opened, conflict=exc,
                              error=_conflict_message(exc, principal), status=exc.status)  # fmt: skip
        errors, error = _problems(exc)
        return _edit_page(request, agent, shown, opened_from=opened, errors=errors, error=error,
                          status=exc.status)  # fmt: skip
    return RedirectResponse(f"/agents/{agent_id}?notice={applied.outcome}", status_code=303)


def _conflict_message(exc: StaleVersionError, principal: Principal) -> str:
    """Who saved which version when, that this save would have undone it, and what to do instead."""
    current = exc.current
    if current is None:
        return exc.message
    if exc.by is not None and exc.by == principal.email:
        who, theirs = "you saved", "that change"
    else:
        who, theirs = f"someone else ({exc.by or 'the operator, with the CLI'}) saved", "their change"
    since = f", after you opened this form from version {exc.expected}" if exc.expected is not None else ""
    return (
        f"{who} version {current.number} at {when(current.created_at)}{since}. Saving this form would "
        f"have undone {theirs}, so nothing was saved. Reload the form to see {theirs}, then make yours "
        "again: what you typed is still below"
    )


def _switch(agent_id: int, context: Context, viewer: Viewer, *, enabled: bool) -> Response:
    principal = viewer.principal
    with context.db.session() as session:
        service.set_enabled(
            session,
            principal.org_id,
            principal=principal,
            agent_id=agent_id,
            enabled=enabled,
            now=context.clock.now(),
        )
        record_switch(context, session, principal, agent_id=agent_id, enabled=enabled)
    code = "enabled" if enabled else "disabled"
    return RedirectResponse(f"/agents/{agent_id}?notice={code}", status_code=303)


@router.post("/agents/{agent_id}/enable")
def enable_agent(agent_id: RowId, viewer: FormActor, context: Context) -> Response:
    return _switch(agent_id, context, viewer, enabled=True)


@router.post("/agents/{agent_id}/disable")
def disable_agent(agent_id: RowId, viewer: FormActor, context: Context) -> Response:
    return _switch(agent_id, context, viewer, enabled=False)
