"""The price in force when a call started is the one used, and later edits never rewrite history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meshclaw.context import AppContext
from meshclaw.errors import InvalidInputError
from meshclaw.metering.events import TokenBuckets
from meshclaw.metering.prices import Price, PriceBook, add_price

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_price_in_force_at_the_call_time(context: AppContext) -> None:
    with context.db.session() as session:
        old = add_price(session, model="gpt-x", input_uncached=2.0, output=8.0, effective_from=T0,
                        created_by_user_id=None, now=T0)  # fmt: skip
        new = add_price(session, model="gpt-x", input_uncached=1.0, output=4.0, effective_from=T0 + timedelta(days=10),
                        created_by_user_id=None, now=T0)  # fmt: skip
        book = PriceBook.load(session)
    assert book.price_at("gpt-x", T0 - timedelta(seconds=1)) is None
    assert book.price_at("gpt-x", T0 + timedelta(days=9)) == old
    assert book.price_at("gpt-x", T0 + timedelta(days=10)) == new
    assert book.price_at("unknown-model", T0 + timedelta(days=20)) is None
    assert book.price_at(None, T0) is None


def test_of_two_prices_with_the_same_start_the_later_one_is_in_force() -> None:
    """However the database returns the rows (PostgreSQL gives no order without ORDER BY), the price set
    last wins, as the audit log's `replaces_price_id` says it does."""
    zero = dict.fromkeys(("cache_read", "cache_write", "output", "reasoning"), 0.0)
    first = Price(id=7, model="gpt-x", effective_from=T0, input_uncached=1.0, **zero)
    second = Price(id=9, model="gpt-x", effective_from=T0, input_uncached=2.0, **zero)
    for rows in ([first, second], [second, first]):
        assert PriceBook(rows).price_at("gpt-x", T0 + timedelta(hours=1)) == second
        assert PriceBook(rows).price_at("gpt-x", T0) == second


def test_a_dated_model_variant_uses_its_base_models_price(context: AppContext) -> None:
    with context.db.session() as session:
        price = add_price(session, model="gpt-4o", input_uncached=2.5, output=10.0, effective_from=T0,
                          created_by_user_id=None, now=T0)  # fmt: skip
        book = PriceBook.load(session)
    assert book.price_at("gpt-4o-2024-08-06", T0 + timedelta(days=1)) == price


def test_cost_is_exact_micro_dollars_per_bucket(context: AppContext) -> None:
    with context.db.session() as session:
        price = add_price(session, model="m", input_uncached=3.0, output=15.0, cache_read=0.3, cache_write=3.75,
                          effective_from=T0, created_by_user_id=None, now=T0)  # fmt: skip
    tokens = TokenBuckets(input_uncached=1000, cache_read=10_000, cache_write=2000, output=500, reasoning=100)
    # 1000*3 + 10000*0.3 + 2000*3.75 + 500*15 + 100*15 (reasoning defaults to the output price)
    assert price.cost_microusd(tokens) == 3000 + 3000 + 7500 + 7500 + 1500


@pytest.mark.parametrize(
    ("field", "value"), [("input_uncached", -1.0), ("output", 1e9), ("cache_read", -0.5)]
)
def test_out_of_range_prices_are_refused_with_the_field(
    context: AppContext, field: str, value: float
) -> None:
    values = {"input_uncached": 1.0, "output": 1.0, field: value}
    with pytest.raises(InvalidInputError) as error, context.db.session() as session:
        add_price(session, model="m", effective_from=T0, created_by_user_id=None, now=T0, **values)
    assert error.value.field == field


def test_empty_model_name_is_refused(context: AppContext) -> None:
    with pytest.raises(InvalidInputError, match="model"), context.db.session() as session:
        add_price(
            session,
            model="  ",
            input_uncached=1,
            output=1,
            effective_from=T0,
            created_by_user_id=None,
            now=T0,
        )
