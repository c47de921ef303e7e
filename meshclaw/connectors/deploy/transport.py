"""HTTP for the webhook, GitHub Actions and Argo CD adapters: one request with a timeout, errors turned
into messages that say what to do, and retries only where they are safe.

Reads (GET) are retried once after a 5xx or a 429 (waiting Retry-After, at most 10 s). A POST is retried
only when the connection was refused, i.e. nothing was sent; after a timeout the server may have acted,
so the message says to check the status instead. Messages name the host, never a token.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import httpx

from meshclaw.tools.registry import ToolError

MAX_RETRY_AFTER_S = 10.0


async def request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    what: str,
    json: Any = None,
    content: bytes | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    host = urlsplit(url).netloc
    read = method == "GET"
    for attempt in (1, 2):
        try:
            response = await client.request(
                method, url, json=json, content=content, params=params, headers=headers
            )
        except httpx.ConnectError as error:
            if attempt == 1:
                await asyncio.sleep(0.5)
                continue
            raise ToolError(
                f"{what}: cannot connect to {host} ({error}); check the URL and try later"
            ) from error
        except httpx.TimeoutException as error:
            if read:
                raise ToolError(f"{what}: {host} did not answer in time; try again later") from error
            raise ToolError(
                f"{what}: {host} did not answer in time; it may have acted on the request, so check the "
                "status before trying again"
            ) from error
        except httpx.HTTPError as error:
            raise ToolError(f"{what}: the connection to {host} failed ({type(error).__name__})") from error
        if read and attempt == 1 and (response.status_code >= 500 or response.status_code == 429):
            await asyncio.sleep(_retry_after(response))
            continue
        return _checked(response, what=what, host=host)
    raise AssertionError("unreachable")


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        return 1.0


def _checked(response: httpx.Response, *, what: str, host: str) -> httpx.Response:
    status = response.status_code
    if status < 400:
        return response
    said = _message(response)
    if status in (401, 403):
        raise ToolError(
            f"{what}: {host} refused the credentials (HTTP {status}{said}); check the account's token "
            "and its permissions"
        )
    if status == 404:
        raise ToolError(f"{what}: {host} has no such resource (HTTP 404{said}); check the account config")
    if status == 429:
        raise ToolError(f"{what}: {host} is rate limiting (HTTP 429); try again later")
    raise ToolError(f"{what}: {host} answered HTTP {status}{said}")


def _message(response: httpx.Response) -> str:
    """The remote system's own explanation (GitHub and Argo CD put it in `message`), shortened."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return f": {text[:200]}" if text else ""
    if isinstance(body, dict):
        text = str(body.get("message") or body.get("error") or "")
        return f": {text[:200]}" if text else ""
    return ""
