"""A tiny local HTTP server for contract tests: it records every request and answers what a test's routes
say, shaped as the remote system's documentation describes (GitHub's REST API, Argo CD's API, a webhook
receiver, Prometheus). It stands in for services that cannot run here; it is not a mock of a client
library: the adapters speak real HTTP to it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Route = Callable[[Recorded], Reply]


@dataclass
class ContractServer:
    url: str
    routes: dict[tuple[str, str], Route]
    requests: list[Recorded]

    def on(self, method: str, path: str, route: Route | Reply) -> None:
        self.routes[(method, path)] = route if callable(route) else (lambda _request, r=route: r)

    def made(self, method: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if method is None or r.method == method]


@contextmanager
def contract_server() -> Iterator[ContractServer]:
    routes: dict[tuple[str, str], Route] = {}
    requests: list[Recorded] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            recorded = Recorded(
                method=self.command,
                path=split.path,
                query=dict(parse_qsl(split.query)),
                headers={name.lower(): value for name, value in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            requests.append(recorded)
            route = routes.get((self.command, split.path))
            reply = route(recorded) if route else Reply(404, {"message": "Not Found"})
            if reply.delay:
                time.sleep(reply.delay)
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (a timeout test)

        do_GET = do_POST = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ContractServer(
            url=f"http://127.0.0.1:{server.server_address[1]}", routes=routes, requests=requests
        )
    finally:
        server.shutdown()
        server.server_close()
