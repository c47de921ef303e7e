"""/providers: the model upstreams, for admins to add, enable, disable and remove (auditors read them).

The page shows each provider's key *variable* and whether it is set in this server process's environment,
never a value: keys are configured outside MeshClaw, in the server's environment. Every change reloads
the running routing table and is audited, as through the API, so the gateway routes by it on the next
request.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from meshclaw.api.deps import Context
from meshclaw.api.providers import provider_out, reload_routes
from meshclaw.api.upstream_audit import record_provider_added, record_provider_change, record_provider_removed
from meshclaw.errors import MeshclawError
from meshclaw.identity.authorize import Resource, authorize, is_allowed
from meshclaw.providers.registry import (
    ProviderKind,
    add_provider,
    get_provider,
    list_providers,
    remove_provider,
    set_enabled,
)
from meshclaw.web.deps import FormActor, PageViewer, Viewer
from meshclaw.web.render import form_result, render

router = APIRouter(include_in_schema=False)

KINDS = {
    ProviderKind.OPENAI.value: "OpenAI",
    ProviderKind.ANTHROPIC.value: "Anthropic",
    ProviderKind.OPENAI_COMPATIBLE.value: "OpenAI-compatible (Ollama, vLLM, …)",
}
NOTICES = {"added": "Provider added.", "changed": "Provider changed.", "removed": "Provider removed."}
"""Fixed texts picked by a code in the URL, so a crafted link cannot make the page say anything else."""


def _values(context: Context, viewer: Viewer) -> dict[str, Any]:
    with context.db.session() as session:
        providers = [provider_out(provider) for provider in list_providers(session)]
    return {
        "providers": providers,
        "kinds": KINDS,
        "can_change": is_allowed(viewer.principal, "create", Resource(kind="provider")),
    }


@router.get("/providers")
def providers_page(
    request: Request, viewer: PageViewer, context: Context, notice: str | None = None
) -> Response:
    authorize(viewer.principal, "read", Resource(kind="provider"))
    return render(
        request, "providers.html", form={}, notice=NOTICES.get(notice or ""), **_values(context, viewer)
    )


def _answer(
    request: Request,
    context: Context,
    viewer: Viewer,
    *,
    code: str,
    notice: str | None,
    error: str | None,
    status: int,
    form: dict[str, str],
) -> Response:
    return form_result(
        request,
        page_template="providers.html",
        panel_template="_providers_panel.html",
        redirect_to=f"/providers?notice={code}",
        error=error,
        notice=notice,
        status=status,
        form=form,
        **_values(context, viewer),
    )


@router.post("/providers")
def add_provider_form(
    request: Request,
    viewer: FormActor,
    context: Context,
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    base_url: Annotated[str, Form()] = "",
    api_key_env: Annotated[str, Form()] = "",
    models: Annotated[str, Form()] = "",
) -> Response:
    authorize(viewer.principal, "create", Resource(kind="provider"))
    form = {"name": name, "kind": kind, "base_url": base_url, "api_key_env": api_key_env, "models": models}
    notice = error = None
    status = 200
    try:
        with context.db.session() as session:
            provider = add_provider(
                session,
                name=name.strip(),
                kind=kind,
                base_url=base_url,
                api_key_env=api_key_env.strip(),
                models=models.split(","),
                now=context.clock.now(),
            )
            record_provider_added(context, session, viewer.principal, provider)
        reload_routes(request)
        notice = f"provider {provider.name} added; its models route to it now"
        form = {}
    except MeshclawError as exc:
        error, status = exc.message, exc.status
        if exc.field == "api_key_env":
            # What was typed there may be a pasted key: never send it back.
            form["api_key_env"] = ""
        if exc.field == "base_url" and "@" in base_url:
            form["base_url"] = ""
    return _answer(
        request, context, viewer, code="added", notice=notice, error=error, status=status, form=form
    )


def _change(request: Request, context: Context, viewer: Viewer, name: str, *, enabled: bool) -> Response:
    authorize(viewer.principal, "update", Resource(kind="provider"))
    notice = error = None
    status = 200
    try:
        with context.db.session() as session:
            before = get_provider(session, name)
            provider = set_enabled(session, name, enabled=enabled)
            record_provider_change(context, session, viewer.principal, before=before, after=provider)
        reload_routes(request)
        notice = f"provider {provider.name} {'enabled' if enabled else 'disabled'}"
    except MeshclawError as exc:
        error, status = exc.message, exc.status
    return _answer(
        request, context, viewer, code="changed", notice=notice, error=error, status=status, form={}
    )


@router.post("/providers/{name}/enable")
def enable_provider(name: str, request: Request, viewer: FormActor, context: Context) -> Response:
    return _change(request, context, viewer, name, enabled=True)


@router.post("/providers/{name}/disable")
def disable_provider(name: str, request: Request, viewer: FormActor, context: Context) -> Response:
    return _change(request, context, viewer, name, enabled=False)


@router.post("/providers/{name}/remove")
def remove_provider_form(name: str, request: Request, viewer: FormActor, context: Context) -> Response:
    authorize(viewer.principal, "delete", Resource(kind="provider"))
    notice = error = None
    status = 200
    try:
        with context.db.session() as session:
            remove_provider(session, name)
            record_provider_removed(context, session, viewer.principal, name)
        reload_routes(request)
        notice = f"provider {name} removed; its models no longer route"
    except MeshclawError as exc:
        error, status = exc.message, exc.status
    return _answer(
        request, context, viewer, code="removed", notice=notice, error=error, status=status, form={}
    )
