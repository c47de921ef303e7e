"""/prices: the model price table, and (for admins) the form that adds a price version.

Like POST /api/v1/prices, the form appends a version and never edits one (audited as `admin.price_set`),
then tells the running recorder, so the next calls are priced with it while calls already recorded keep
their cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from meshclaw.api.deps import Context
from meshclaw.api.prices import PriceOut, notify_recorder, prices_out
from meshclaw.api.upstream_audit import record_price_set
from meshclaw.errors import InvalidInputError, MeshclawError
from meshclaw.identity.authorize import Resource, authorize, is_allowed
from meshclaw.metering.prices import add_price, list_prices
from meshclaw.metering.queries import parse_time
from meshclaw.web.deps import FormActor, PageViewer, Viewer
from meshclaw.web.render import form_result, render

router = APIRouter(include_in_schema=False)

FIELDS = {
    "input_uncached": "Input",
    "output": "Output",
    "cache_read": "Cache read",
    "cache_write": "Cache write",
    "reasoning": "Reasoning",
}
"""Form field -> the label the person sees, so an error names the box to fix."""
NOTICES = {"added": "Price added; calls from its start are priced with it."}
"""Fixed texts picked by a code in the URL, so a crafted link cannot make the page say anything else."""


@dataclass(frozen=True, kw_only=True)
class Version:
    price: PriceOut
    status: str
    """in force, replaced or scheduled."""


def _versions(prices: list[PriceOut]) -> tuple[list[PriceOut], list[Version]]:
    current = [price for price in prices if price.current]
    versions = []
    for price in sorted(prices, key=lambda p: (p.model, p.effective_from), reverse=True):
        newer_current = any(
            c.model == price.model and c.effective_from > price.effective_from for c in current
        )
        status = "in force" if price.current else ("replaced" if newer_current else "scheduled")
        versions.append(Version(price=price, status=status))
    return current, versions


def _values(context: Context, viewer: Viewer) -> dict[str, Any]:
    with context.db.session() as session:
        prices = prices_out(list_prices(session), context.clock.now())
    current, versions = _versions(prices)
    return {
        "current": current,
        "versions": versions,
        "models": sorted({price.model for price in prices}),
        "can_add": is_allowed(viewer.principal, "create", Resource(kind="price")),
    }


@router.get("/prices")
def prices_page(
    request: Request, viewer: PageViewer, context: Context, notice: str | None = None
) -> Response:
    authorize(viewer.principal, "read", Resource(kind="price"))
    return render(
        request, "prices.html", form={}, notice=NOTICES.get(notice or ""), **_values(context, viewer)
    )


def _price(form: dict[str, str], name: str, *, required: bool) -> float | None:
    text = form.get(name, "").strip().replace(",", ".")
    label = FIELDS[name]
    if not text:
        if required:
            raise InvalidInputError(
                f"{label} price is required, in USD per million tokens (e.g. 2.5)", field=name
            )
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(
            f"{label} price must be a number of USD per million tokens, such as 2.5, not {text[:30]!r}",
            field=name,
        ) from None
    if not 0 <= value <= 100_000:
        raise InvalidInputError(
            f"{label} price must be between 0 and 100000 USD per million tokens", field=name
        )
    return value


@router.post("/prices")
def add_price_version(
    request: Request,
    viewer: FormActor,
    context: Context,
    model: Annotated[str, Form()] = "",
    input_uncached: Annotated[str, Form()] = "",
    output: Annotated[str, Form()] = "",
    cache_read: Annotated[str, Form()] = "",
    cache_write: Annotated[str, Form()] = "",
    reasoning: Annotated[str, Form()] = "",
    effective_from: Annotated[str, Form()] = "",
) -> Response:
    authorize(viewer.principal, "create", Resource(kind="price"))
    form = {
        "model": model,
        "input_uncached": input_uncached,
        "output": output,
        "cache_read": cache_read,
        "cache_write": cache_write,
        "reasoning": reasoning,
        "effective_from": effective_from,
    }
    notice = error = None
    status = 200
    try:
        if not model.strip():
            raise InvalidInputError(
                "Model is required: the name providers report, such as gpt-4o", field="model"
            )
        now = context.clock.now()
        starts = parse_time(effective_from, "Effective from") or now
        with context.db.session() as session:
            price = add_price(
                session,
                model=model,
                input_uncached=_price(form, "input_uncached", required=True) or 0.0,
                output=_price(form, "output", required=True) or 0.0,
                cache_read=_price(form, "cache_read", required=False),
                cache_write=_price(form, "cache_write", required=False),
                reasoning=_price(form, "reasoning", required=False),
                effective_from=starts,
                created_by_user_id=viewer.principal.user_id,
                now=now,
            )
            record_price_set(context, session, viewer.principal, price)
        notify_recorder(request)
        when = "now" if starts == now else f"from {starts:%Y-%m-%d %H:%M} UTC"
        notice = f"price for {price.model} added; it applies to calls {when}"
        form = {}
    except MeshclawError as exc:
        error, status = exc.message, exc.status
    return form_result(
        request,
        page_template="prices.html",
        panel_template="_prices_panel.html",
        redirect_to="/prices?notice=added",
        error=error,
        notice=notice,
        status=status,
        form=form,
        **_values(context, viewer),
    )
