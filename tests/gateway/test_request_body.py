"""The body limit holds however the server hands the body over (ASGI messages, no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from meshclaw.gateway.errors import GatewayError
from meshclaw.gateway.request import ClientRequest, read_body


def _receiver(*parts: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    messages = [
        {"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    return receive


def _read(*parts: bytes, max_bytes: int) -> bytes:
    request = ClientRequest()  # no Content-Length: a chunked upload
    # A thread of its own: the session's Playwright keeps a loop marked running on the main thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, read_body(request, _receiver(*parts), max_bytes=max_bytes)).result()  # type: ignore[arg-type]
    return request.body


def test_a_chunked_body_that_arrives_whole_in_one_message_is_still_limited() -> None:
    # uvicorn hands over everything it buffered in one message, so a small upload arrives whole.
    with pytest.raises(GatewayError) as error:
        _read(b"x" * 101, max_bytes=100)
    assert error.value.status == 413


def test_a_body_over_the_limit_across_messages_is_413_and_one_within_is_joined() -> None:
    with pytest.raises(GatewayError):
        _read(b"x" * 60, b"x" * 41, max_bytes=100)
    assert _read(b"x" * 60, b"y" * 40, max_bytes=100) == b"x" * 60 + b"y" * 40
