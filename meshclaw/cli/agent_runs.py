"""What the CLI's run-starting commands share (`meshclaw agents run`, `meshclaw agents dream`): finding
an agent by name the way a person types it, and waiting for a run the running `meshclaw up` executes.
Heavy modules are imported inside the functions, as everywhere in the CLI."""

from __future__ import annotations

import sys
import time
from typing import Any


def pick_agent(session: Any, org_id: int, name: str, owner: str | None) -> Any:
    """The one agent called `name` (or with that id), of `owner` when several people use the name."""
    from meshclaw.agents import service
    from meshclaw.errors import InvalidInputError, NotFoundError

    found = [
        agent
        for agent in service.visible_agents(session, org_id, None, owner=owner)
        if agent.name == name or str(agent.id) == name
    ]
    if not found:
        raise NotFoundError(f"no agent named '{name}'; `meshclaw agents list` shows them")
    if len(found) > 1:
        owners = ", ".join(agent.owner_email for agent in found)
        raise InvalidInputError(f"several people have an agent named '{name}' ({owners}); add --owner EMAIL")
    return found[0]


def find_agent(context: Any, org_id: int, name: str, owner: str | None) -> Any:
    """`pick_agent` in a session of its own."""
    with context.db.session() as session:
        return pick_agent(session, org_id, name, owner)


def wait_for_run(context: Any, run_id: str, timeout: float) -> str:
    """The run's status once final, or its last status after `timeout` seconds. A run still queued after
    15 s most likely has no server to execute it: say so once on stderr."""
    from meshclaw.runs.store import FINAL, get_run

    deadline = time.monotonic() + timeout
    hinted = time.monotonic() + 15
    status = "queued"
    while time.monotonic() < deadline:
        with context.db.session() as session:
            run = get_run(session, run_id)
            status = run.status if run is not None else "missing"
        if status in FINAL:
            break
        if status == "queued" and time.monotonic() > hinted:
            print(f"{run_id} is still queued: is `meshclaw up` running?", file=sys.stderr)
            hinted = deadline
        time.sleep(0.2)
    return status
