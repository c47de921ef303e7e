"""The Argo CD adapter against a contract fixture answering as Argo CD's API documentation describes
(Application with status.sync, status.history, status.operationState). Not run against a real Argo CD."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from meshclaw.connectors.deploy.config import DeployConfig
from meshclaw.tools.registry import ToolError
from tests.connectors.deploy.conftest import account, call, run
from tests.connectors.deploy.contract_server import ContractServer, Reply, contract_server

TOKEN = "argocd-token-secret"
APP = "/api/v1/applications/web-prod"
TARGET = {"service": "web", "environment": "production"}


@pytest.fixture
def argo() -> Iterator[ContractServer]:
    with contract_server() as server:
        yield server


def config(server: ContractServer) -> DeployConfig:
    return DeployConfig.model_validate(
        {
            "target": {"kind": "argocd", "server": server.url, "token": TOKEN,
                       "applications": {"web": {"production": "web-prod"}}},
            "services": ["web"],
            "environments": ["production"],
        }
    )  # fmt: skip


def application(
    phase: str = "Succeeded", *, info: list[dict[str, str]] | None = None, revision: str = "bbb"
) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-prod", "namespace": "argocd"},
        "status": {
            "sync": {"status": "Synced", "revision": revision},
            "health": {"status": "Healthy"},
            "history": [
                {"id": 1, "revision": "aaa", "deployedAt": "2026-11-30T10:00:00Z"},
                {"id": 2, "revision": "bbb", "deployedAt": "2026-12-01T10:00:00Z"},
            ],
            "operationState": {
                "phase": phase, "startedAt": "2026-12-01T10:00:00Z",
                "operation": {"sync": {"revision": revision}, "info": info or [], "initiatedBy": {"username": "admin"}},
                "syncResult": {"revision": revision},
            },
        },
    }  # fmt: skip


def test_a_deploy_syncs_to_the_revision_with_the_key_in_infos(argo: ContractServer) -> None:
    argo.on("GET", APP, Reply(200, application()))
    argo.on("POST", APP + "/sync", Reply(200, application("Running", revision="ccc")))
    prod = account("argo", config(argo))
    outcome = run(call([prod], "deploy_start_release", key="run-3:1", version="ccc", **TARGET))
    assert outcome["status"] == "started"
    [sync] = argo.made("POST")
    assert sync.json() == {
        "revision": "ccc", "prune": False, "dryRun": False,
        "infos": [{"name": "meshclaw-idempotency-key", "value": "run-3:1"}],
    }  # fmt: skip
    assert sync.headers["authorization"] == f"Bearer {TOKEN}"


def test_a_replayed_sync_finds_its_key_and_does_not_sync_again(argo: ContractServer) -> None:
    info = [{"name": "meshclaw-idempotency-key", "value": "run-3:1"}]
    argo.on("GET", APP, Reply(200, application("Running", info=info, revision="ccc")))
    prod = account("argo", config(argo))
    outcome = run(call([prod], "deploy_start_release", key="run-3:1", version="ccc", **TARGET))
    assert outcome["status"] == "already_done"
    assert argo.made("POST") == []


def test_a_deploy_while_another_operation_runs_is_refused(argo: ContractServer) -> None:
    argo.on("GET", APP, Reply(200, application("Running")))
    prod = account("argo", config(argo))
    with pytest.raises(ToolError, match="another operation is running"):
        run(call([prod], "deploy_start_release", key="run-3:2", version="ccc", **TARGET))
    assert argo.made("POST") == []


def test_a_rollback_returns_to_the_previous_history_entry(argo: ContractServer) -> None:
    argo.on("GET", APP, Reply(200, application()))
    argo.on("POST", APP + "/rollback", Reply(200, application("Running", revision="aaa")))
    prod = account("argo", config(argo))
    outcome = run(call([prod], "deploy_rollback_release", **TARGET))
    assert (outcome["status"], outcome["version"]) == ("started", "aaa")
    assert argo.made("POST")[0].json() == {"id": 1, "prune": False, "dryRun": False}


def test_a_rollback_to_what_already_runs_is_not_repeated(argo: ContractServer) -> None:
    argo.on("GET", APP, Reply(200, application(revision="aaa")))
    prod = account("argo", config(argo))
    outcome = run(call([prod], "deploy_rollback_release", version="aaa", **TARGET))
    assert outcome["status"] == "already_done"
    assert argo.made("POST") == []


def test_the_status_maps_the_operation_phase(argo: ContractServer) -> None:
    argo.on("GET", APP, Reply(200, application("Failed", revision="ccc")))
    prod = account("argo", config(argo))
    status = run(call([prod], "deploy_get_status", **TARGET))
    assert (status["version"], status["state"], status["ours"]) == ("ccc", "failed", False)


def test_a_missing_application_is_a_clear_error(argo: ContractServer) -> None:
    argo.on("GET", APP, Reply(404, {"error": 'applications.argoproj.io "web-prod" not found', "code": 5}))
    prod = account("argo", config(argo))
    with pytest.raises(ToolError, match=r"no such resource.*not found"):
        run(call([prod], "deploy_get_status", **TARGET))
