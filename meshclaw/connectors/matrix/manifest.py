"""The Matrix connector as the platform sees it."""

from __future__ import annotations

from typing import Any

from meshclaw.connectors.contract import Account, Connector, EventSourceSpec
from meshclaw.connectors.matrix.approvals import ask_approval
from meshclaw.connectors.matrix.client import connect
from meshclaw.connectors.matrix.config import MatrixConfig
from meshclaw.connectors.matrix.events import EMITS, run_sync
from meshclaw.connectors.matrix.tools import matrix_tools


async def check(account: Account[Any]) -> str:
    """Log in (or use the token) and count the joined rooms."""
    config: MatrixConfig = account.config
    async with connect(config) as client:
        user_id = await client.whoami()
        rooms = await client.rooms()
    return f"{user_id} on {config.homeserver}, in {len(rooms)} rooms"


def connector() -> Connector:
    return Connector(
        name="matrix",
        title="Matrix",
        config=MatrixConfig,
        tools=matrix_tools,
        check=check,
        events=(EventSourceSpec(name="sync", emits=EMITS, run=run_sync),),
        ask_approval=ask_approval,
        owner_identity=owner_identity,
    )


def owner_identity(config: MatrixConfig) -> str | None:
    """Only the owner's own reactions decide their approvals (anyone in the room could react)."""
    return config.owner_matrix_user
