"""Misbehaving servers for the fault tests: one that accepts connections and never says a word, and a TCP
proxy in front of the real server that cuts a connection when the client sends a given command."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung server); yields the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


class CuttingProxy:
    """Forwards 127.0.0.1:port to the real server; the first `cuts` connections (all when None) are closed
    as soon as the client sends `marker`, before it reaches the server. With `hang`, the connection is kept
    open instead and the command (and everything after it) is swallowed: a server that stops answering
    mid-session."""

    def __init__(
        self,
        target_port: int,
        marker: bytes,
        *,
        cuts: int | None = 1,
        hang: bool = False,
        reply: bool = False,
    ) -> None:
        self.hang = hang
        self.reply = reply
        """Look for `marker` in what the server answers instead: the command was done, its answer is lost."""
        self.target_port = target_port
        self.marker = marker
        self.cuts = cuts
        self.connections = 0
        self.cut = 0
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> CuttingProxy:
        self._spawn(self._accept)
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            cutting = self.cuts is None or self.connections <= self.cuts
            self._spawn(self._pipe, client, cutting)

    def _pipe(self, client: socket.socket, cutting: bool) -> None:
        server = socket.create_connection(("127.0.0.1", self.target_port))
        swallowing = False
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([client, server], [], [], 0.1)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    if self.reply and source is server and cutting and self.marker in data:
                        self.cut += 1
                        return
                    if (
                        not self.reply
                        and source is client
                        and (swallowing or (cutting and self.marker in data))
                    ):
                        if not swallowing:
                            self.cut += 1
                        if not self.hang:
                            return
                        swallowing = True
                        continue
                    (server if source is client else client).sendall(data)
        except OSError:
            return
        finally:
            client.close()
            server.close()
