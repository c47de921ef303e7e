"""Credentials for MeshClaw's own agent runs: how an agent's model call through the gateway is
attributed to the agent, its owner and the run, and charged to their budgets.

A run credential is issued by this process for one run and verified by it, with an HMAC under a secret
drawn when the gateway starts and never stored: nothing to leak from the database, nothing to revoke
(it expires with the run's wall-time limit, and a restart invalidates every one). It names the agent,
the run, the owner and the owner's team when the run started, and whether a person started the run. The
agent calls come in process (`agent_models`), so the credential never leaves the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import orjson

from meshclaw.gateway.errors import GatewayError
from meshclaw.metering.events import Initiator, Source

PREFIX = "mcrun_"

_BAD = "the agent run credential is invalid or expired; the run must be started again"


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """Whom a gateway call is attributed and charged to."""

    user_id: int
    team_id: int | None
    api_key_id: int | None = None
    agent_id: int | None = None
    run_id: str | None = None
    source: Source = "gateway"
    initiator: Initiator = "human"


class RunCredentials:
    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def issue(
        self,
        *,
        agent_id: int,
        run_id: str,
        owner_user_id: int,
        team_id: int | None,
        human_initiated: bool,
        ttl_s: float,
    ) -> str:
        claims = {"a": agent_id, "r": run_id, "u": owner_user_id, "t": team_id, "h": human_initiated,
                  "e": int(time.time() + ttl_s) + 1}  # fmt: skip
        payload = base64.urlsafe_b64encode(orjson.dumps(claims)).rstrip(b"=")
        return PREFIX + payload.decode() + "." + self._sign(payload)

    def verify(self, credential: str) -> Caller:
        payload, _, signature = credential.removeprefix(PREFIX).partition(".")
        if not hmac.compare_digest(self._sign(payload.encode()), signature):
            raise GatewayError(401, _BAD, code="invalid_api_key")
        try:
            claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, orjson.JSONDecodeError):
            raise GatewayError(401, _BAD, code="invalid_api_key") from None
        if time.time() >= claims["e"]:
            raise GatewayError(401, _BAD, code="invalid_api_key")
        return Caller(
            user_id=claims["u"],
            team_id=claims["t"],
            agent_id=claims["a"],
            run_id=claims["r"],
            source="agent",
            initiator="human" if claims["h"] else "automation",
        )

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self._secret, payload, hashlib.sha256).hexdigest()
