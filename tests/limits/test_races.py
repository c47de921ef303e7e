"""Many threads and async tasks admitting at once never together pass a hard limit."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from meshclaw.limits.admission import Limiter, LimitExceeded, Subject, Ticket
from tests.limits.rules import limiter_with, rule

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)
ADA = Subject(user_id=1, team_id=10)


def _race(limiter: Limiter, threads: int, *, cost: int, tokens: int) -> tuple[list[Ticket], int]:
    start = threading.Barrier(threads)
    admitted: list[Ticket] = []
    refused = 0
    lock = threading.Lock()

    def attempt() -> None:
        nonlocal refused
        start.wait()
        try:
            ticket = limiter.admit(ADA, reserve_tokens=tokens, reserve_cost_microusd=cost, now=NOW)
        except LimitExceeded:
            with lock:
                refused += 1
            return
        with lock:
            admitted.append(ticket)

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return admitted, refused


def test_fifty_threads_against_a_budget_that_fits_exactly_ten() -> None:
    limiter = limiter_with(rule("usd", "day", 10 * 250_000, subject_type="team", subject_id=10), now=NOW)
    admitted, refused = _race(limiter, 50, cost=250_000, tokens=0)
    assert (len(admitted), refused) == (10, 40)
    for ticket in admitted:
        ticket.settle(tokens=0, cost_microusd=250_000, now=NOW)
    try:
        limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=1, now=NOW)
        raise AssertionError("the eleventh call was admitted")
    except LimitExceeded:
        pass


def test_racing_threads_respect_tokens_per_minute_and_concurrency_together() -> None:
    limiter = limiter_with(rule("tokens", "minute", 1_000), rule("concurrent", "", 7), now=NOW)
    admitted, refused = _race(limiter, 40, cost=0, tokens=100)
    assert (len(admitted), refused) == (7, 33)  # concurrency binds first
    for ticket in admitted:
        ticket.settle(tokens=100, cost_microusd=0, now=NOW)
    admitted, refused = _race(limiter, 40, cost=0, tokens=100)
    assert (len(admitted), refused) == (3, 37)  # then the 300 tokens left in the minute


def test_async_tasks_racing_on_one_event_loop() -> None:
    limiter = limiter_with(rule("requests", "minute", 10), now=NOW)

    async def call() -> bool:
        await asyncio.sleep(0)
        try:
            ticket = limiter.admit(ADA, reserve_tokens=0, reserve_cost_microusd=0, now=NOW)
        except LimitExceeded:
            return False
        await asyncio.sleep(0)  # the model call
        ticket.settle(tokens=0, cost_microusd=0, now=NOW)
        return True

    async def main() -> list[bool]:
        return await asyncio.gather(*(call() for _ in range(50)))

    # On a thread of its own: a Playwright browser test earlier in the session leaves its event loop
    # marked as running on the main thread, and asyncio.run refuses to start inside a running loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert sum(pool.submit(asyncio.run, main()).result()) == 10
