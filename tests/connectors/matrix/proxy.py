"""A small HTTP proxy in front of the real Synapse that misbehaves on request: it answers 429
M_LIMIT_EXCEEDED to the first N matching requests, or forwards a request and then never answers (the
server did the work, the client never hears it). The connector's nio client talks to it like to any
homeserver; nothing of nio is replaced."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from aiohttp import web


@dataclass
class Rule:
    method: str
    path_contains: str
    action: str
    """`limit` (answer 429), `swallow` (forward, then hang), `hang` (never answer) or `count` (forward;
    `hits` counts the requests)."""
    times: int = 1
    retry_after_ms: int = 200
    hits: int = 0


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.rules: list[Rule] = []
        self._released = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def __aenter__(self) -> FaultProxy:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._released.set()
        assert self._runner is not None and self._session is not None
        await self._session.close()
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rule = next(
            (
                rule
                for rule in self.rules
                if rule.method == request.method
                and rule.path_contains in request.path
                and rule.hits < rule.times
            ),
            None,
        )
        if rule is not None:
            rule.hits += 1
            if rule.action == "limit":
                body = {
                    "errcode": "M_LIMIT_EXCEEDED",
                    "error": "Too Many Requests",
                    "retry_after_ms": rule.retry_after_ms,
                }
                return web.json_response(body, status=429)
            if rule.action == "hang":
                await self._released.wait()
                return web.Response(status=503)
        response = await self._forward(request)
        if rule is not None and rule.action == "swallow":
            await self._released.wait()
        return response

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        headers = {
            key: value
            for key, value in request.headers.items()
            if key.lower() not in ("host", "content-length")
        }
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=await request.read(), headers=headers
        ) as upstream:
            body = await upstream.read()
            return web.Response(body=body, status=upstream.status, content_type=upstream.content_type)
