"""The pooled HTTP/1.1 client the gateway calls providers with.

Measured on the 2-core dev box against the stub: aiohttp's client costs about 0.2-0.3 ms of CPU per call
and httpx more, which alone would cap a gateway process well under its 1,700 calls/s target; this client,
one asyncio protocol per keep-alive connection with the `httptools` C parser, costs about 0.05 ms. It does
only what the gateway needs: one request per connection at a time, the request written with one
`write()`, the response head and body (content-length or chunked) handed over as they arrive, idle
connections kept per host for reuse (LIFO, so few stay warm), TLS for https providers, and a read
timeout between bytes. A request whose reused connection turns out closed before any answer byte (the
provider dropped an idle keep-alive) is retried once on a fresh connection, as browsers do.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import urlsplit

import httptools

MAX_BUFFERED = 1 << 20
"""Body bytes buffered from a provider before reading pauses (a slow client must not grow memory)."""
IDLE_S = 25.0
"""Idle connections older than this are closed rather than reused (providers drop them near 30-60 s)."""


class UpstreamError(Exception):
    """The provider could not be reached or broke off (502)."""


class UpstreamTimeout(UpstreamError):
    """The provider sent nothing for the read timeout (504)."""


class _Connection(asyncio.Protocol):
    def __init__(self, pool: _HostPool) -> None:
        self.pool = pool
        self.loop = pool.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.status = 0
        self.keep_alive = False
        self.got_bytes = False
        self.head: asyncio.Future[None] | None = self.loop.create_future()
        self.body: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.complete = False
        self.error: UpstreamError | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False

    # --- asyncio.Protocol -----------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, so no isinstance check here.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(UpstreamError(f"the provider sent malformed HTTP ({error})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if self.complete:
            return
        names = {name for name, _ in self.headers}
        if self.status and b"content-length" not in names and b"transfer-encoding" not in names:
            self.complete = True  # a body delimited by the connection closing (HTTP/1.0 style) ends here
            self._wake()
        else:
            self._fail(UpstreamError("the provider closed the connection"))

    # --- httptools callbacks --------------------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        # Read here: after the message completes, httptools no longer answers should_keep_alive().
        self.keep_alive = self.parser.should_keep_alive()
        if self.head is not None and not self.head.done():
            self.head.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)
        self.buffered += len(body)
        if self.buffered > MAX_BUFFERED and not self.paused and self.transport is not None:
            self.transport.pause_reading()
            self.paused = True
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    # --- used by the request ----------------------------------------------------------------------

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        self.error = error
        if self.head is not None and not self.head.done():
            self.head.set_exception(error)
        self._wake()

    async def _wait(self, future: asyncio.Future[None], timeout: float) -> None:
        timer = self.loop.call_later(timeout, self._expire, future)
        try:
            await future
        finally:
            timer.cancel()

    def _expire(self, future: asyncio.Future[None]) -> None:
        if not future.done():
            future.set_exception(UpstreamTimeout("the provider did not answer in time"))
            self.close()

    def take(self) -> bytes:
        data = b"".join(self.body) if len(self.body) != 1 else self.body[0]
        self.body.clear()
        self.buffered = 0
        if self.paused and self.transport is not None:
            self.transport.resume_reading()
            self.paused = False
        return data

    async def more(self, timeout: float) -> bool:
        """Wait for more body or the end; False once the body is complete and drained."""
        while not self.body:
            if self.complete:
                return False
            if self.error is not None:
                raise self.error
            self.waiter = self.loop.create_future()
            await self._wait(self.waiter, timeout)
            self.waiter = None
        return True

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Response:
    """A provider's answer: status and headers at once, the body read whole or chunk by chunk.
    `release()` exactly once returns the connection to the pool (or closes it if unfinished)."""

    def __init__(self, connection: _Connection, timeout: float) -> None:
        self._connection = connection
        self._timeout = timeout
        self.status = connection.status
        self.headers = connection.headers

    async def read(self) -> bytes:
        parts = []
        while await self._connection.more(self._timeout):
            parts.append(self._connection.take())
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        while await self._connection.more(self._timeout):
            yield self._connection.take()

    def release(self) -> None:
        connection = self._connection
        if connection.complete and not connection.closed and connection.keep_alive:
            connection.pool.put(connection)
        else:
            connection.close()


class _HostPool:
    def __init__(
        self, loop: asyncio.AbstractEventLoop, host: str, port: int, tls: ssl.SSLContext | None
    ) -> None:
        self.loop = loop
        self.host, self.port, self.tls = host, port, tls
        self.idle: list[_Connection] = []

    def forget(self, connection: _Connection) -> None:
        if connection in self.idle:
            self.idle.remove(connection)

    def put(self, connection: _Connection) -> None:
        connection.idle_since = self.loop.time()
        self.idle.append(connection)

    def take_idle(self) -> _Connection | None:
        now = self.loop.time()
        while self.idle:
            connection = self.idle.pop()
            if not connection.closed and now - connection.idle_since < IDLE_S:
                return connection
            connection.close()
        return None

    async def connect(self, timeout: float) -> _Connection:
        try:
            _, connection = await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: _Connection(self),
                    self.host,
                    self.port,
                    ssl=self.tls,
                    server_hostname=self.host if self.tls else None,
                ),
                timeout,
            )
        except TimeoutError:
            raise UpstreamTimeout(f"connecting to {self.host}:{self.port} timed out") from None
        except OSError as error:
            raise UpstreamError(
                f"could not connect to {self.host}:{self.port} ({error.strerror or error})"
            ) from None
        return connection


class Upstream:
    """One pool of keep-alive connections per provider host, for one event loop."""

    def __init__(self, *, timeout_s: float, connect_timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._pools: dict[tuple[asyncio.AbstractEventLoop, str, str, int], _HostPool] = {}
        """Per event loop too: a connection belongs to the loop that opened it, and MeshClaw's own agent
        runs may call the gateway in process from a loop other than the server's."""
        self._targets: dict[str, _Target] = {}
        self._tls: ssl.SSLContext | None = None

    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) > 1000:  # provider URLs are few; the bound only guards a misconfiguration
                self._targets.clear()
            target = self._targets[url] = _Target(url)
        return target

    def _pool(self, scheme: str, host: str, port: int) -> _HostPool:
        loop = asyncio.get_running_loop()
        pool = self._pools.get((loop, scheme, host, port))
        if pool is None:
            tls = None
            if scheme == "https":
                if self._tls is None:
                    self._tls = ssl.create_default_context()
                tls = self._tls
            pool = _HostPool(loop, host, port, tls)
            # Forget the pools of loops that have ended (a test's, a finished worker's): new pools are rare.
            self._pools = {key: kept for key, kept in self._pools.items() if not key[0].is_closed()}
            self._pools[(loop, scheme, host, port)] = pool
        return pool

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Response:
        target = self._target(url)
        pool = self._pool(target.scheme, target.host, target.port)
        request = _request_bytes(target, body, headers)
        connection = pool.take_idle()
        if connection is not None:
            try:
                return await self._send(connection, request)
            except UpstreamTimeout:
                raise
            except UpstreamError:
                if connection.got_bytes:
                    raise
                # A kept-alive connection the provider had already closed: it never saw the request.
        return await self._send(await pool.connect(self.connect_timeout_s), request)

    async def _send(self, connection: _Connection, request: bytes) -> Response:
        connection._reset()
        assert connection.transport is not None and connection.head is not None
        connection.transport.write(request)
        await connection._wait(connection.head, self.timeout_s)
        return Response(connection, self.timeout_s)

    async def close(self) -> None:
        current = asyncio.get_running_loop()
        for (loop, *_), pool in self._pools.items():
            for connection in pool.idle:
                # A connection is closed on its own loop; one whose loop has ended is already dead.
                if loop is current:
                    connection.close()
                elif not loop.is_closed():
                    loop.call_soon_threadsafe(connection.close)
            pool.idle.clear()
        self._pools.clear()


class _Target:
    __slots__ = ("host", "host_header", "path", "port", "scheme")

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        default = (self.scheme == "https" and self.port == 443) or (self.scheme == "http" and self.port == 80)
        self.host_header = self.host if default else f"{self.host}:{self.port}"


def _request_bytes(target: _Target, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {target.path} HTTP/1.1\r\nhost: {target.host_header}\r\ncontent-length: {len(body)}\r\n"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            continue  # a header value with a line break would inject headers; such a value is dropped
        lines.append(f"{name}: {value}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1", "replace") + body
