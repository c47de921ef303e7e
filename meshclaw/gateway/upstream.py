"""The pooled HTTP client the gateway calls providers with.

One aiohttp session per process, created on first use inside the running event loop: keep-alive
connections are reused across requests (a new TCP connection per call would double the latency), with no
cap on connections so a slow provider cannot queue calls to a fast one. aiohttp is used rather than httpx
because its per-request cost is a fraction of httpx's, which matters at thousands of calls per second.
"""

from __future__ import annotations

import aiohttp

from meshclaw.gateway.apis import Api
from meshclaw.providers.registry import ProviderConfig

ANTHROPIC_VERSION = "2023-06-01"


class Upstream:
    def __init__(self, *, timeout_s: float, connect_timeout_s: float = 10.0) -> None:
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout_s, sock_connect=connect_timeout_s, sock_read=timeout_s
        )
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ttl_dns_cache=300),
                timeout=self._timeout,
                auto_decompress=True,
                raise_for_status=False,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def upstream_headers(
    api: Api, provider: ProviderConfig, *, anthropic_version: str | None, anthropic_beta: str | None
) -> dict[str, str]:
    """The provider's own key (from its environment variable), never the client's."""
    headers = {"content-type": "application/json"}
    key = provider.api_key()
    if api.style == "anthropic":
        headers["anthropic-version"] = anthropic_version or ANTHROPIC_VERSION
        if anthropic_beta:
            headers["anthropic-beta"] = anthropic_beta
        if key:
            headers["x-api-key"] = key
    elif key:
        headers["authorization"] = f"Bearer {key}"
    return headers
