"""The parts of Slack the emulator lacks, as a small aiohttp server of the suite's own in front of it.

- **Socket Mode**: `apps.connections.open` (checking the app-level token) hands out a WebSocket URL on this
  server; a connection gets Slack's `hello`, then whatever envelopes a test pushes (`events_api`,
  `interactive`, `disconnect`), and the client's acks are recorded. A test can drop every connection, as
  Slack does when it restarts a socket, and watch the client open a new one.
- **Faults**: a test plans answers for a Web API method (a 429 with Retry-After, `invalid_auth`, a call
  that never answers); every other call is forwarded unchanged to the emulator, so state stays real.

It runs its own event loop in a thread: tests drive it with plain calls from any thread.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import uuid
from collections import defaultdict, deque
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.servers.slack import SlackEmulator

APP_TOKEN = "xapp-meshclaw-socket"


@dataclass(frozen=True)
class Fault:
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    """Never answer (the client must give up on its own)."""
    cut: bool = False
    """Close the connection without answering and without forwarding (nothing happens upstream)."""
    lose_answer: bool = False
    """Forward the call to the emulator (it takes effect), then never answer: a connection cut mid-call."""


def rate_limited(retry_after: int) -> Fault:
    return Fault(
        status=429, body={"ok": False, "error": "ratelimited"}, headers={"Retry-After": str(retry_after)}
    )


def refused(error: str) -> Fault:
    return Fault(body={"ok": False, "error": error})


class SlackFront:
    def __init__(self, emulator: SlackEmulator) -> None:
        self._emulator = emulator
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.calls: list[str] = []
        self.opens = 0
        self.linked = 0
        """The number of the newest URL a client connected to (`opens` counts the URLs handed out)."""
        self.sockets: list[web.WebSocketResponse] = []
        self.acks: list[dict[str, Any]] = []
        self._ack_waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._released = asyncio.Event()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    # --- control, from the tests' threads ---------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._run(self._start())

    def stop(self) -> None:
        self._run(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    def reset(self) -> None:
        self._run(self._reset())

    def plan(self, method: str, *faults: Fault) -> None:
        """The next calls of `method` get these answers, in order; later ones reach the emulator."""
        self._loop.call_soon_threadsafe(self.faults[method].extend, faults)

    def count(self, method: str) -> int:
        return self.calls.count(method)

    def wait_connected(self, opens: int = 1, timeout: float = 10) -> None:
        """Until a client connected to the `opens`-th WebSocket URL handed out. (Counting URLs handed out
        was not enough: after a refresh, the old socket can still be open when the new URL is fetched,
        and a push then went to the socket the client was leaving.)"""
        self._run(self._wait(lambda: self.linked >= opens and bool(self.sockets), timeout), timeout + 1)

    def push(self, envelope_type: str, payload: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        """Sends an envelope over the newest connection; returns the client's ack of it."""
        return self._run(self._push(envelope_type, payload, timeout), timeout + 1)

    def send_raw(self, message: dict[str, Any]) -> None:
        self._run(self.sockets[-1].send_json(message))

    def drop(self) -> None:
        """Closes every connection from the server's side."""
        self._run(self._drop())

    def _run(self, coro: Any, timeout: float = 10) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    # --- the server -------------------------------------------------------------------------------

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/apps.connections.open", self._open)
        app.router.add_get("/link", self._link)
        app.router.add_route("*", "/api/{method}", self._api)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def _stop(self) -> None:
        self._released.set()
        await self._drop()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _reset(self) -> None:
        self._released.set()
        self._released = asyncio.Event()
        await self._drop()
        self.faults.clear()
        self.calls.clear()
        self.acks.clear()
        self.opens = 0
        self.linked = 0

    async def _wait(self, condition: Any, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.02)

    async def _open(self, request: web.Request) -> web.Response:
        self.calls.append("apps.connections.open")
        if request.headers.get("Authorization") != f"Bearer {APP_TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self.opens += 1
        return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/link?n={self.opens}"})

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        self.linked = max(self.linked, int(request.query.get("n", "0")))
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.sockets),
                "connection_info": {"app_id": "A0MESHCLAW"},
            }
        )
        try:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                ack = json.loads(message.data)
                self.acks.append(ack)
                waiter = self._ack_waiters.pop(str(ack.get("envelope_id")), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(ack)
        finally:
            if ws in self.sockets:
                self.sockets.remove(ws)
        return ws

    async def _push(self, envelope_type: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        await self._wait(lambda: bool(self.sockets), timeout)
        envelope_id = str(uuid.uuid4())
        waiter: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self._ack_waiters[envelope_id] = waiter
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": envelope_type,
                "payload": payload,
                "accepts_response_payload": False,
            }
        )
        try:
            async with asyncio.timeout(timeout):
                return await waiter
        finally:
            self._ack_waiters.pop(envelope_id, None)

    async def _drop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        self.sockets.clear()

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        self.calls.append(method)
        planned = self.faults.get(method)
        if planned:
            fault = planned.popleft()
            if fault.cut:
                assert request.transport is not None
                request.transport.close()
                return web.Response(status=499)  # never sent: the connection is gone
            if fault.lose_answer:
                await self._forward(request, method)
            if fault.hang or fault.lose_answer:
                await self._released.wait()  # until the test ends (reset) or the server stops
            return web.json_response(fault.body, status=fault.status, headers=fault.headers)
        return await self._forward(request, method)

    async def _forward(self, request: web.Request, method: str) -> web.Response:
        assert self._session is not None
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() in ("authorization", "content-type")
        }
        async with self._session.request(
            request.method,
            f"{self._emulator.api_url}{method}?{request.query_string}",
            data=await request.read(),
            headers=headers,
        ) as upstream:
            body = await upstream.read()
            return web.Response(
                body=body,
                status=upstream.status,
                content_type=upstream.content_type,
                charset=upstream.charset,
            )


@pytest.fixture(scope="session")
def slack_front_server(slack_emulator: SlackEmulator) -> Iterator[SlackFront]:
    front = SlackFront(slack_emulator)
    front.start()
    try:
        yield front
    finally:
        front.stop()


@pytest.fixture
def slack_front(slack_front_server: SlackFront) -> Iterator[SlackFront]:
    """The session's front server, with no faults planned and no connections at the start of a test."""
    slack_front_server.reset()
    yield slack_front_server
    slack_front_server.reset()
