"""A real OpenID provider per test (node-oidc-provider, tests/oidc/provider), wired to a live MeshClaw.

Order of start-up: the provider's port is chosen first, so MeshClaw's settings can name the issuer; then
MeshClaw starts (`live_server`, which reads `live_server_settings`); then the provider starts with the one
client it knows, whose redirect URI is the live server's callback. MeshClaw only talks to the provider
when someone signs in, so starting it last is safe.

The provider's issuer is `http://localhost:<port>` (it listens on 127.0.0.1 only) and MeshClaw is
`http://127.0.0.1:<port>`: different sites to the browser, so the return from the provider is a cross-site
navigation, as in production, and the flow cookie's SameSite=Lax is really exercised.

Accounts at the provider (sign in with the login below and any password):

- `ada`: ada@example.org, verified
- `stranger`: stranger@example.org, verified, and unknown to MeshClaw unless a test creates her
- `unverified`: unverified@example.org, not verified

Tests choose `oidc_auto_create` (default False), `claims_in_id_token` (default False: email and name
come from the userinfo endpoint only, as the library does by default) and `oidc_client_secret_at_meshclaw`
(default: the secret the provider knows) by parametrizing those names.
When Node.js or the provider's packages are missing, the tests fail and say how to install them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, free_port, wait_until_answers

PROVIDER_DIR = Path(__file__).parent / "provider"
START_TIMEOUT_S = 20
CLIENT_ID = "meshclaw-test"
CLIENT_SECRET = "test-client-secret-that-is-long-enough-0123456789"
ACCOUNTS: dict[str, dict[str, object]] = {
    "ada": {"email": "ada@example.org", "email_verified": True, "name": "Ada Lovelace"},
    "stranger": {"email": "stranger@example.org", "email_verified": True, "name": "Sam Stranger"},
    "unverified": {"email": "unverified@example.org", "email_verified": False, "name": "Uma Unverified"},
}


ISSUER_HOST = "localhost"


def issuer_url(port: int) -> str:
    return f"http://{ISSUER_HOST}:{port}"


@dataclass(frozen=True)
class OidcProvider:
    issuer: str
    client_id: str


@pytest.fixture
def oidc_provider_port() -> int:
    return free_port()


@pytest.fixture
def oidc_auto_create() -> bool:
    return False


@pytest.fixture
def claims_in_id_token() -> bool:
    return False


@pytest.fixture
def oidc_client_secret_at_meshclaw() -> str:
    """The client secret MeshClaw is configured with; a test may make it differ from the provider's."""
    return CLIENT_SECRET


@pytest.fixture
def live_server_settings(
    oidc_provider_port: int, oidc_auto_create: bool, oidc_client_secret_at_meshclaw: str
) -> dict[str, Any]:
    return {
        "oidc_issuer": issuer_url(oidc_provider_port),
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": oidc_client_secret_at_meshclaw,
        "oidc_auto_create_users": oidc_auto_create,
    }


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(
            "the test OpenID provider is not installed: run scripts/install-test-deps.sh "
            "(needs Node.js 18 or later and npm; it runs `npm ci` in tests/oidc/provider)"
        )
    return node


@pytest.fixture
def oidc_provider(
    live_server: LiveServer, oidc_provider_port: int, claims_in_id_token: bool, tmp_path: Path
) -> Iterator[OidcProvider]:
    node = _node()
    issuer = issuer_url(oidc_provider_port)
    config = {
        "port": oidc_provider_port,
        "host": ISSUER_HOST,
        "client": {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": f"{live_server.url}/auth/oidc/callback",
        },
        "accounts": ACCOUNTS,
        "claims_in_id_token": claims_in_id_token,
    }
    log_path = tmp_path / "oidc-provider.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [node, str(PROVIDER_DIR / "provider.mjs"), json.dumps(config)],
            cwd=PROVIDER_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        try:
            wait_until_answers(
                f"{issuer}/.well-known/openid-configuration",
                within_s=START_TIMEOUT_S,
                what="the test OpenID provider",
                alive=lambda: process.poll() is None,
            )
        except RuntimeError as exc:
            pytest.fail(f"{exc}:\n{log_path.read_text()}")
        yield OidcProvider(issuer=issuer, client_id=CLIENT_ID)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
