"""The event source against a webhook target's status URL: a baseline first, then deployments started by
others become events once each, MeshClaw's own (the status echoes its idempotency key) do not."""

from __future__ import annotations

import asyncio
from typing import Any

from meshclaw.connectors.deploy.config import DeployConfig
from meshclaw.connectors.deploy.events import poll_deployments
from tests.connectors.deploy.conftest import RecordingSink, account, run
from tests.connectors.deploy.contract_server import Recorded, Reply, contract_server


def deployment(deployment_id: str, version: str, state: str, key: str | None = None) -> dict[str, Any]:
    return {"id": deployment_id, "version": version, "state": state, "idempotency_key": key}


def test_changes_by_others_become_events_once_and_our_own_do_not() -> None:
    answers = [
        deployment("d1", "1.0.0", "succeeded"),  # what runs when the source starts: no event
        deployment("d2", "1.1.0", "running", key="run-4:2"),  # ours
        deployment("d2", "1.1.0", "succeeded", key="run-4:2"),
        deployment("d3", "1.2.0", "running"),  # someone else's
        deployment("d3", "1.2.0", "failed"),
    ]

    def status(_request: Recorded) -> Reply:
        return Reply(200, answers.pop(0) if len(answers) > 1 else answers[0])

    with contract_server() as server:
        server.on("GET", "/status", status)
        config = DeployConfig.model_validate(
            {"target": {"kind": "webhook", "deploy_url": server.url + "/deploy", "status_url": server.url + "/status",
                        "secret": "s"}, "services": ["web"], "environments": ["staging"], "poll_seconds": 1}
        )  # fmt: skip
        ci = account("ci", config)

        async def scenario() -> RecordingSink:
            sink, stop = RecordingSink(), asyncio.Event()
            poller = asyncio.create_task(poll_deployments(ci, sink, stop))
            while len(answers) > 1:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.2)  # one more poll of the final state must not repeat anything
            stop.set()
            await poller
            return sink

        sink = run(scenario())
    assert [(e.type, e.fields["version"], e.fields.get("state")) for e in sink.events] == [
        ("deployment.started", "1.2.0", None),
        ("deployment.finished", "1.2.0", "failed"),
    ]
    assert {e.key for e in sink.events} == {
        "deploy:ci:web:staging:d3:started",
        "deploy:ci:web:staging:d3:finished",
    }
    assert all(e.untrusted is False and e.account == "ci" for e in sink.events)
