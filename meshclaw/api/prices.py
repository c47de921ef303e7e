"""/api/v1/prices: the versioned model price table (USD per million tokens, per token bucket).

Everyone may read prices (so a cost can be explained); only admins add them. Adding never edits a row: it
appends a version in force from `effective_from`, and events already recorded keep the cost they were
given. The running recorder is told at once, so the next batch is priced with the new table. Each version
added is audited as `admin.price_set` in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from meshclaw.api.deps import Context, CurrentPrincipal
from meshclaw.api.upstream_audit import record_price_set
from meshclaw.identity.authorize import Resource, authorize
from meshclaw.metering.prices import Price, add_price, list_prices
from meshclaw.metering.recorder import Recorder

router = APIRouter(prefix="/prices", tags=["prices"])

_PER_MILLION = "USD per million tokens"


class PriceOut(BaseModel):
    id: int
    model: str
    effective_from: datetime
    input_uncached: float = Field(description=_PER_MILLION + " of input read at the full price")
    cache_read: float = Field(description=_PER_MILLION + " of input served from the prompt cache")
    cache_write: float = Field(description=_PER_MILLION + " of input written to the prompt cache")
    output: float = Field(description=_PER_MILLION + " of visible output")
    reasoning: float = Field(description=_PER_MILLION + " of hidden reasoning output")
    current: bool = Field(description="True for the version in force now (false for past and future ones)")


class PriceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=200, description="Model name as providers report it")
    input_uncached: float = Field(ge=0, le=100_000, description=_PER_MILLION)
    output: float = Field(ge=0, le=100_000, description=_PER_MILLION)
    cache_read: float | None = Field(
        default=None, ge=0, le=100_000, description=_PER_MILLION + "; defaults to input_uncached"
    )
    cache_write: float | None = Field(
        default=None, ge=0, le=100_000, description=_PER_MILLION + "; defaults to input_uncached"
    )
    reasoning: float | None = Field(
        default=None, ge=0, le=100_000, description=_PER_MILLION + "; defaults to output"
    )
    effective_from: datetime | None = Field(
        default=None, description="When the price takes effect (UTC if no offset); defaults to now"
    )


def prices_out(prices: list[Price], now: datetime) -> list[PriceOut]:
    """Every version, oldest first per model, each marked whether it is the one in force at `now`."""
    in_force: dict[str, Price] = {}
    for price in prices:
        if price.effective_from <= now:
            previous = in_force.get(price.model)
            if previous is None or price.effective_from >= previous.effective_from:
                in_force[price.model] = price
    current_ids = {price.id for price in in_force.values()}
    return [
        PriceOut(
            id=p.id,
            model=p.model,
            effective_from=p.effective_from,
            input_uncached=p.input_uncached,
            cache_read=p.cache_read,
            cache_write=p.cache_write,
            output=p.output,
            reasoning=p.reasoning,
            current=p.id in current_ids,
        )
        for p in prices
    ]


def notify_recorder(request: Request) -> None:
    recorder = getattr(request.app.state, "recorder", None)
    if isinstance(recorder, Recorder):
        recorder.prices_changed()


@router.get("", response_model=list[PriceOut])
def read_prices(principal: CurrentPrincipal, context: Context, model: str | None = None) -> list[PriceOut]:
    """Every price version, by model and then by effective date."""
    authorize(principal, "read", Resource(kind="price"))
    with context.db.session() as session:
        prices = list_prices(session)
    if model is not None:
        prices = [price for price in prices if price.model == model]
    return prices_out(prices, context.clock.now())


@router.post("", response_model=PriceOut, status_code=201)
def create_price(
    body: PriceCreate, request: Request, principal: CurrentPrincipal, context: Context
) -> PriceOut:
    """Add a price version (admins). Unset cache prices default to the input price, reasoning to output."""
    authorize(principal, "create", Resource(kind="price"))
    now = context.clock.now()
    effective_from = body.effective_from or now
    if effective_from.tzinfo is None:
        effective_from = effective_from.replace(tzinfo=UTC)
    with context.db.session() as session:
        price = add_price(
            session,
            model=body.model,
            input_uncached=body.input_uncached,
            output=body.output,
            cache_read=body.cache_read,
            cache_write=body.cache_write,
            reasoning=body.reasoning,
            effective_from=effective_from,
            created_by_user_id=principal.user_id,
            now=now,
        )
        record_price_set(context, session, principal, price)
        everything = prices_out(list_prices(session), now)
    notify_recorder(request)
    return next(out for out in everything if out.id == price.id)
