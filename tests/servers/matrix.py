"""A real Matrix homeserver (Synapse, SQLite) for the test suite, started once per session.

The config is written here rather than by `--generate-config` (which costs a Python start and writes
things we would then edit): loopback only on a free port, no federation key servers (no network), no
presence or URL previews, every rate limit raised so tests never meet one by accident. A test that wants
a 429 narrows one user's message rate with the admin API (`Synapse.limit_messages`). Users are made with
the registration shared secret over HTTP (`/_synapse/admin/v1/register`), which takes milliseconds instead
of a `register_new_matrix_user` process each.

Room ids of the default room version (12) have no `:server` part; nothing here assumes one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

START_TIMEOUT_S = 60
SERVER_NAME = "localhost"
_UNLIMITED = {"per_second": 10000, "burst_count": 10000}


@dataclass(frozen=True, kw_only=True, slots=True)
class MatrixUser:
    user_id: str
    password: str
    access_token: str
    device_id: str


@dataclass(frozen=True, kw_only=True)
class Synapse:
    url: str
    """`http://127.0.0.1:PORT`, the client-server API's base."""
    shared_secret: str
    admin_token: str
    http: httpx.Client
    """One client for the session: a new httpx client per call costs 0.2 s (it loads the CA bundle)."""

    def register(self, prefix: str = "user", *, admin: bool = False) -> MatrixUser:
        """A new user with a unique name (tests never share users) and a logged-in device."""
        localpart = f"{prefix}-{uuid.uuid4().hex[:8]}"
        password = secrets.token_urlsafe(12)
        return _register(self.http, self.url, self.shared_secret, localpart, password, admin=admin)

    def limit_messages(self, user_id: str, *, per_second: int, burst_count: int) -> None:
        """Give one user a strict event-sending rate (the config's is unlimited), to meet M_LIMIT_EXCEEDED."""
        response = self.http.post(
            f"{self.url}/_synapse/admin/v1/users/{user_id}/override_ratelimit",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            json={"messages_per_second": per_second, "burst_count": burst_count},
            timeout=10,
        )
        response.raise_for_status()

    def delete_device(self, user_id: str, device_id: str) -> None:
        """Remove a device and its access tokens (what an admin or the user does to revoke a login)."""
        response = self.http.delete(
            f"{self.url}/_synapse/admin/v2/users/{user_id}/devices/{device_id}",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=10,
        )
        response.raise_for_status()


def _register(
    http: httpx.Client, url: str, shared_secret: str, localpart: str, password: str, *, admin: bool
) -> MatrixUser:
    endpoint = f"{url}/_synapse/admin/v1/register"
    nonce = http.get(endpoint, timeout=10).json()["nonce"]
    kind = b"admin" if admin else b"notadmin"
    message = b"\x00".join([nonce.encode(), localpart.encode(), password.encode(), kind])
    mac = hmac.new(shared_secret.encode(), message, hashlib.sha1).hexdigest()
    body = {"nonce": nonce, "username": localpart, "password": password, "admin": admin, "mac": mac}
    response = http.post(endpoint, json=body, timeout=10)
    response.raise_for_status()
    data = response.json()
    return MatrixUser(
        user_id=data["user_id"],
        password=password,
        access_token=data["access_token"],
        device_id=data["device_id"],
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _config(root: Path, port: int, shared_secret: str) -> dict[str, object]:
    limits: dict[str, object] = {
        name: _UNLIMITED
        for name in (
            "rc_message", "rc_registration", "rc_joins_per_room", "rc_3pid_validation",
            "rc_invites_per_issuer", "rc_admin_redaction", "rc_room_creation", "rc_reports",
            "rc_presence", "rc_delayed_event_mgmt",
        )
    }  # fmt: skip
    limits["rc_login"] = {"address": _UNLIMITED, "account": _UNLIMITED, "failed_attempts": _UNLIMITED}
    limits["rc_joins"] = {"local": _UNLIMITED, "remote": _UNLIMITED}
    limits["rc_invites"] = {"per_room": _UNLIMITED, "per_user": _UNLIMITED, "per_issuer": _UNLIMITED}
    return {
        "server_name": SERVER_NAME,
        "pid_file": str(root / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": str(root / "homeserver.db")}},
        "log_config": str(root / "log.yaml"),
        "media_store_path": str(root / "media"),
        "signing_key_path": str(root / "signing.key"),
        "registration_shared_secret": shared_secret,
        "macaroon_secret_key": secrets.token_hex(32),
        "form_secret": secrets.token_hex(32),
        "report_stats": False,
        "bcrypt_rounds": 4,  # registering and logging in a test user costs ms, not 0.4 s
        "enable_registration": False,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "url_preview_enabled": False,
        "presence": {"enabled": False},
        **limits,
    }


def _log_config(root: Path) -> dict[str, object]:
    """Warnings and worse to a file in the temp dir (shown when the server fails to start)."""
    return {
        "version": 1,
        "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
        "handlers": {
            "file": {
                "class": "logging.FileHandler",
                "filename": str(root / "homeserver.log"),
                "formatter": "plain",
            }
        },
        "root": {"level": "WARNING", "handlers": ["file"]},
        "disable_existing_loggers": False,
    }


def _signing_key(path: Path) -> None:
    from signedjson.key import generate_signing_key, write_signing_keys

    with path.open("w") as file:
        write_signing_keys(file, [generate_signing_key("a_test")])


def _server_env() -> dict[str, str]:
    """Synapse's imports cost 8 s of CPU from source and about 2 s from bytecode. The venv is installed
    without bytecode and test shells often set PYTHONDONTWRITEBYTECODE, so the server writes its bytecode
    to a cache beside the temp dirs (not into the venv) and every later session starts fast."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "meshclaw-synapse-pycache")
    return env


def _wait_until_healthy(http: httpx.Client, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if http.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise RuntimeError(f"Synapse did not answer /health within {START_TIMEOUT_S} s:\n{tail}")


@contextmanager
def running_synapse() -> Iterator[Synapse]:
    """Start Synapse from a temporary directory; stop it and delete its data at the end of the session."""
    root = Path(tempfile.mkdtemp(prefix="meshclaw-synapse-"))
    port = _free_port()
    shared_secret = secrets.token_hex(16)
    # JSON is YAML: no yaml dumper needed.
    (root / "homeserver.yaml").write_text(json.dumps(_config(root, port, shared_secret)))
    (root / "log.yaml").write_text(json.dumps(_log_config(root)))
    _signing_key(root / "signing.key")
    output = (root / "stdout.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "synapse.app.homeserver", "-c", str(root / "homeserver.yaml")],
        cwd=root,
        stdout=output,
        stderr=subprocess.STDOUT,
        env=_server_env(),
    )
    url = f"http://127.0.0.1:{port}"
    http = httpx.Client()
    try:
        _wait_until_healthy(http, url, process, root / "homeserver.log")
        admin = _register(http, url, shared_secret, "meshclaw-admin", secrets.token_urlsafe(12), admin=True)
        yield Synapse(url=url, shared_secret=shared_secret, admin_token=admin.access_token, http=http)
    finally:
        http.close()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        output.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def synapse() -> Iterator[Synapse]:
    """Synapse for the whole session."""
    with running_synapse() as server:
        yield server
