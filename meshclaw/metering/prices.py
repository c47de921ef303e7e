"""The versioned price table and cost calculation.

Prices are USD per million tokens per bucket. A change is a new row with its own `effective_from`; the
recorder prices each event with the row in force when the call started and stores the cost and the price
row's id with the event, so later edits never rewrite history.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meshclaw.db.models import ModelPrice
from meshclaw.errors import InvalidInputError
from meshclaw.metering.events import TokenBuckets


@dataclass(frozen=True, kw_only=True)
class Price:
    id: int
    model: str
    effective_from: datetime
    input_uncached: float
    cache_read: float
    cache_write: float
    output: float
    reasoning: float

    def cost_microusd(self, tokens: TokenBuckets) -> int:
        # USD per million tokens x tokens = micro-USD, exactly.
        return round(
            tokens.input_uncached * self.input_uncached
            + tokens.cache_read * self.cache_read
            + tokens.cache_write * self.cache_write
            + tokens.output * self.output
            + tokens.reasoning * self.reasoning
        )


class PriceBook:
    """All prices, in memory, looked up by model and time. Rebuilt with `load()` after a change."""

    def __init__(self, prices: list[Price]) -> None:
        self._by_model: dict[str, list[Price]] = {}
        # Of two versions with the same start, the later row (higher id) is in force, in any order given.
        for price in sorted(prices, key=lambda p: (p.effective_from, p.id)):
            self._by_model.setdefault(price.model, []).append(price)
        self._starts = {model: [p.effective_from for p in rows] for model, rows in self._by_model.items()}

    @classmethod
    def load(cls, session: Session) -> PriceBook:
        rows = session.scalars(select(ModelPrice)).all()
        return cls([_to_price(row) for row in rows])

    def price_at(self, model: str | None, at: datetime) -> Price | None:
        if not model:
            return None
        rows = self._by_model.get(model)
        if rows is None:
            # Providers often answer with a dated variant ("gpt-4o-2024-08-06") of the priced name.
            base = next((m for m in self._by_model if model.startswith(m + "-")), None)
            if base is None:
                return None
            rows = self._by_model[base]
            model = base
        latest = rows[-1]
        if at >= latest.effective_from:  # nearly every event: the newest price is in force
            return latest
        index = bisect.bisect_right(self._starts[model], at) - 1
        return rows[index] if index >= 0 else None


def _to_price(row: ModelPrice) -> Price:
    return Price(
        id=row.id,
        model=row.model,
        effective_from=row.effective_from,
        input_uncached=row.input_uncached,
        cache_read=row.cache_read,
        cache_write=row.cache_write,
        output=row.output,
        reasoning=row.reasoning,
    )


def add_price(
    session: Session,
    *,
    model: str,
    input_uncached: float,
    output: float,
    cache_read: float | None = None,
    cache_write: float | None = None,
    reasoning: float | None = None,
    effective_from: datetime,
    created_by_user_id: int | None,
    now: datetime,
) -> Price:
    """Add a price version. Unset cache prices default to the input price, reasoning to the output price."""
    model = model.strip()
    if not model:
        raise InvalidInputError("model must not be empty", field="model")
    values = {
        "input_uncached": input_uncached,
        "cache_read": input_uncached if cache_read is None else cache_read,
        "cache_write": input_uncached if cache_write is None else cache_write,
        "output": output,
        "reasoning": output if reasoning is None else reasoning,
    }
    for name, value in values.items():
        if not 0 <= value <= 100_000:
            raise InvalidInputError(f"{name} must be between 0 and 100000 USD per million tokens", field=name)
    row = ModelPrice(
        model=model,
        effective_from=effective_from,
        created_by_user_id=created_by_user_id,
        created_at=now,
        **values,
    )
    session.add(row)
    session.flush()
    return _to_price(row)


def list_prices(session: Session) -> list[Price]:
    rows = session.scalars(select(ModelPrice).order_by(ModelPrice.model, ModelPrice.effective_from)).all()
    return [_to_price(row) for row in rows]


def replaced_price_id(session: Session, price: Price) -> int | None:
    """The version `price` takes over from at its start: the model's latest other version in force then
    (of two with the same start, the newer row), or None when nothing priced the model before it."""
    return session.scalar(
        select(ModelPrice.id)
        .where(
            ModelPrice.model == price.model,
            ModelPrice.effective_from <= price.effective_from,
            ModelPrice.id != price.id,
        )
        .order_by(ModelPrice.effective_from.desc(), ModelPrice.id.desc())
        .limit(1)
    )
