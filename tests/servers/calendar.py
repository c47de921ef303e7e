"""A real CalDAV server for the test suite: Radicale (pip, a dev dependency), started once per session from a
temporary directory on a free loopback port.

Logins come from a plain htpasswd file (`USERS`); rights are `owner_only`, so each user sees only their own
calendars, as on a real server. Storage is Radicale's multifilesystem folder in the same directory, which
lets a test plant an object that Radicale itself would refuse (`plant_unreadable`): the way a lax server or
a hand-edited file hands a client broken iCalendar.
"""

from __future__ import annotations

import hashlib
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import niquests
import pytest

USERS = {"alice": "alice-pw", "bob": "bob-pw"}
START_TIMEOUT_S = 20


@dataclass(frozen=True)
class CalendarServer:
    url: str
    """`http://127.0.0.1:PORT/`"""
    root: Path

    def password(self, user: str) -> str:
        return USERS[user]

    def collection(self, user: str, calendar_id: str) -> Path:
        return self.root / "collections" / "collection-root" / user / calendar_id

    def put(self, user: str, calendar_id: str, filename: str, text: str) -> None:
        """Store an object over HTTP, as any CalDAV client (an inviter's server) would."""
        response = niquests.put(
            f"{self.url}{user}/{calendar_id}/{filename}",
            data=text.replace("\n", "\r\n").encode(),
            auth=(user, USERS[user]),
            headers={"Content-Type": "text/calendar; charset=utf-8"},
            timeout=10,
        )
        assert response.status_code in (201, 204), (response.status_code, response.text)

    def plant_unreadable(self, user: str, calendar_id: str, filename: str, good: str, broken: str) -> None:
        """Make the server serve `broken` for an object stored as `good`.

        Radicale refuses broken iCalendar on PUT and skips broken files it has to parse, so `good` is stored
        over HTTP (Radicale caches its parsed form: uid, etag, text, time range), and then the file and
        the cached text are both replaced by `broken`, with the cache entry re-keyed to the new file's
        hash. Radicale then serves the broken text and still finds it in time-range queries.
        """
        from radicale import storage

        self.put(user, calendar_id, filename, good)
        niquests.get(f"{self.url}{user}/{calendar_id}/{filename}", auth=(user, USERS[user]), timeout=10)
        folder = self.collection(user, calendar_id)
        raw = broken.replace("\n", "\r\n").encode()
        (folder / filename).write_bytes(raw)
        cache = folder / ".Radicale.cache" / "item" / filename
        with cache.open("rb") as file:
            _, uid, etag, _text, *rest = pickle.load(file)  # noqa: S301  (the file this server just wrote)
        key = hashlib.sha256(storage.CACHE_VERSION + raw).hexdigest()
        with cache.open("wb") as file:
            pickle.dump((key, uid, etag, raw.decode(), *rest), file)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(url: str) -> bool:
    try:
        niquests.get(url, timeout=1)
    except niquests.exceptions.RequestException:
        return False
    return True


@contextmanager
def running_radicale() -> Iterator[CalendarServer]:
    """A private instance, stopped and removed on exit (the session fixture and the start-up test use it)."""
    root = Path(tempfile.mkdtemp(prefix="meshclaw-radicale-"))
    port = _free_port()
    (root / "users").write_text("".join(f"{user}:{password}\n" for user, password in USERS.items()))
    config = root / "config"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        f"[auth]\ntype = htpasswd\nhtpasswd_filename = {root / 'users'}\nhtpasswd_encryption = plain\n"
        # No delay after a wrong password: the auth-failure tests would wait for it.
        "delay = 0\n"
        f"[storage]\nfilesystem_folder = {root / 'collections'}\n"
        "[rights]\ntype = owner_only\n"
        "[logging]\nlevel = warning\n"
    )
    log = (root / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Radicale did not start:\n{(root / 'server.log').read_text()}")
            time.sleep(0.1)
        yield CalendarServer(url=url, root=root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def radicale() -> Iterator[CalendarServer]:
    """Radicale for the whole session."""
    with running_radicale() as server:
        yield server
