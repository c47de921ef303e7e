"""The webhook adapter against a local receiver that verifies the signature and drops repeated
idempotency keys, as a CI system's webhook endpoint should; and the faults: a hanging receiver, a 5xx."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import pytest

from meshclaw.connectors.deploy.config import DeployConfig
from meshclaw.tools.registry import ToolError
from tests.connectors.deploy.conftest import account, call, run
from tests.connectors.deploy.contract_server import ContractServer, Recorded, Reply, contract_server

SECRET = "webhook-shared-secret"
TARGET = {"service": "web", "environment": "staging", "version": "2.0.1"}


@pytest.fixture
def receiver() -> Iterator[ContractServer]:
    with contract_server() as server:
        yield server


def config(server: ContractServer, **target: Any) -> DeployConfig:
    return DeployConfig.model_validate(
        {
            "target": {"kind": "webhook", "deploy_url": server.url + "/hooks/deploy",
                       "status_url": server.url + "/hooks/status", "secret": SECRET, **target},
            "services": ["web"],
            "environments": ["staging"],
        }
    )  # fmt: skip


def signed(request: Recorded) -> bool:
    timestamp = request.headers["x-meshclaw-timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest(request.headers["x-meshclaw-signature"], f"sha256={expected}")


def pipeline(started: list[str]) -> Any:
    """A receiver: refuses a bad signature, starts one pipeline per idempotency key."""

    def route(request: Recorded) -> Reply:
        if not signed(request):
            return Reply(401, {"message": "bad signature"})
        key = request.headers["idempotency-key"]
        if key not in started:
            started.append(key)
        return Reply(202, {"id": f"pipeline-{started.index(key) + 1}"})

    return route


def test_a_deploy_is_a_signed_post_and_a_replay_starts_nothing_new(receiver: ContractServer) -> None:
    started: list[str] = []
    receiver.on("POST", "/hooks/deploy", pipeline(started))
    hook = account("ci", config(receiver))
    first = run(call([hook], "deploy_start_release", key="run-2:4", **TARGET))
    again = run(call([hook], "deploy_start_release", key="run-2:4", **TARGET))
    assert (first["status"], first["reference"]) == ("started", "pipeline-1")
    assert again["reference"] == "pipeline-1"
    assert started == ["run-2:4"]  # two requests, one pipeline
    request = receiver.made("POST")[0]
    assert request.json() == {
        "action": "deploy", "service": "web", "environment": "staging", "version": "2.0.1",
        "idempotency_key": "run-2:4",
    }  # fmt: skip


def test_a_wrong_secret_is_refused_by_the_receiver(receiver: ContractServer) -> None:
    receiver.on("POST", "/hooks/deploy", pipeline([]))
    hook = account("ci", config(receiver, secret="not-the-secret"))
    with pytest.raises(ToolError, match="refused the credentials"):
        run(call([hook], "deploy_start_release", key="run-2:5", **TARGET))


def test_a_hanging_receiver_gives_a_clear_error_in_time(receiver: ContractServer) -> None:
    receiver.on("POST", "/hooks/deploy", Reply(202, {"id": "late"}, delay=5))
    hook = account("ci", config(receiver, timeout_seconds=0.5))
    clock = time.monotonic()
    with pytest.raises(ToolError, match="may have acted on the request, so check the status"):
        run(call([hook], "deploy_start_release", key="run-2:6", **TARGET))
    assert time.monotonic() - clock < 3
    assert len(receiver.made("POST")) == 1  # not retried: it may have been received


def test_a_failing_post_is_not_retried_but_a_failing_read_is(receiver: ContractServer) -> None:
    receiver.on("POST", "/hooks/deploy", Reply(500, {"message": "pipeline backend down"}))
    answers = iter([Reply(503, {"message": "restarting"}, headers={"Retry-After": "0"}),
                    Reply(200, {"id": "d-7", "version": "2.0.1", "state": "running"})])  # fmt: skip
    receiver.on("GET", "/hooks/status", lambda _request: next(answers))
    hook = account("ci", config(receiver))
    with pytest.raises(ToolError, match="HTTP 500: pipeline backend down"):
        run(call([hook], "deploy_start_release", key="run-2:7", **TARGET))
    assert len(receiver.made("POST")) == 1
    status = run(call([hook], "deploy_get_status", service="web", environment="staging"))
    assert (status["id"], status["state"]) == ("d-7", "running")
    assert len(receiver.made("GET")) == 2


def test_an_unreachable_receiver_is_a_clear_error() -> None:
    with contract_server() as server:
        gone = config(server)
    hook = account("ci", gone)
    with pytest.raises(ToolError, match="cannot connect"):
        run(call([hook], "deploy_start_release", key="run-2:8", **TARGET))
