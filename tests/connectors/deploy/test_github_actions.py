"""The GitHub Actions adapter against a contract fixture answering as GitHub's REST API documentation
describes (`workflow_dispatch` answers 204; runs are listed newest first). Not run against github.com."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from meshclaw.connectors.deploy.config import DeployConfig
from meshclaw.tools.registry import ToolError
from tests.connectors.deploy.conftest import account, call, run
from tests.connectors.deploy.contract_server import ContractServer, Reply, contract_server

TOKEN = "ghp_not-a-real-token-but-secret"
WORKFLOW = "/repos/acme/web/actions/workflows/deploy.yml"
TARGET = {"service": "web", "environment": "production", "version": "1.4.2"}


@pytest.fixture
def github() -> Iterator[ContractServer]:
    with contract_server() as server:
        yield server


def config(server: ContractServer, **target: Any) -> DeployConfig:
    return DeployConfig.model_validate(
        {
            "target": {
                "kind": "github_actions", "api": server.url, "owner": "acme", "repo": "web", "token": TOKEN,
                "workflows": {"web": {"deploy": "deploy.yml", "ref": "main"}}, **target,
            },
            "services": ["web"],
            "environments": ["production"],
        }
    )  # fmt: skip


def run_entry(
    run_id: int, title: str, status: str = "completed", conclusion: str | None = "success"
) -> dict[str, Any]:
    return {
        "id": run_id, "name": "deploy", "display_title": title, "status": status, "conclusion": conclusion,
        "event": "workflow_dispatch", "head_sha": "0123456789abcdef0123", "html_url": f"https://github.com/acme/web/actions/runs/{run_id}",
    }  # fmt: skip


def test_a_deploy_dispatches_the_workflow_as_documented(github: ContractServer) -> None:
    github.on("GET", WORKFLOW + "/runs", Reply(200, {"total_count": 0, "workflow_runs": []}))
    github.on("POST", WORKFLOW + "/dispatches", Reply(204))
    gh = account("gh", config(github, key_input="meshclaw_key"))
    outcome = run(call([gh], "deploy_start_release", key="run-5:2", **TARGET))
    assert outcome["status"] == "started"
    [dispatch] = github.made("POST")
    assert dispatch.json() == {
        "ref": "main", "inputs": {"environment": "production", "version": "1.4.2", "meshclaw_key": "run-5:2"}
    }  # fmt: skip
    assert dispatch.headers["authorization"] == f"Bearer {TOKEN}"
    assert dispatch.headers["accept"] == "application/vnd.github+json"
    assert dispatch.headers["x-github-api-version"] == "2022-11-28"
    [lookup] = github.made("GET")
    assert lookup.query["event"] == "workflow_dispatch"


def test_a_replayed_dispatch_finds_its_run_and_does_not_dispatch_again(github: ContractServer) -> None:
    runs = {
        "total_count": 2,
        "workflow_runs": [
            run_entry(8, "deploy 1.4.2 run-5:2", "in_progress", None),
            run_entry(7, "deploy 1.4.1 run-4:1"),
        ],
    }
    github.on("GET", WORKFLOW + "/runs", Reply(200, runs))
    github.on("POST", WORKFLOW + "/dispatches", Reply(204))
    gh = account("gh", config(github, key_input="meshclaw_key"))
    outcome = run(call([gh], "deploy_start_release", key="run-5:2", **TARGET))
    assert (outcome["status"], outcome["reference"]) == ("already_done", "8")
    assert github.made("POST") == []


def test_the_status_is_the_latest_run(github: ContractServer) -> None:
    github.on(
        "GET",
        WORKFLOW + "/runs",
        Reply(200, {"total_count": 1, "workflow_runs": [run_entry(9, "deploy", "completed", "failure")]}),
    )
    gh = account("gh", config(github))
    status = run(call([gh], "deploy_get_status", service="web", environment="production"))
    assert (status["id"], status["state"], status["version"]) == ("9", "failed", "0123456789ab")
    assert github.made()[0].query["per_page"] == "1"


def test_refused_credentials_say_so_without_the_token(github: ContractServer) -> None:
    github.on(
        "POST",
        WORKFLOW + "/dispatches",
        Reply(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}),
    )
    gh = account("gh", config(github))
    with pytest.raises(ToolError) as raised:
        run(call([gh], "deploy_start_release", **TARGET))
    assert "refused the credentials" in str(raised.value) and "Bad credentials" in str(raised.value)
    assert TOKEN not in str(raised.value)
    assert len(github.made("POST")) == 1  # a refused POST is not retried


def test_a_rollback_without_a_rollback_workflow_needs_the_version(github: ContractServer) -> None:
    github.on("POST", WORKFLOW + "/dispatches", Reply(204))
    gh = account("gh", config(github))
    with pytest.raises(ToolError, match="pass `version`"):
        run(call([gh], "deploy_rollback_release", service="web", environment="production"))
    outcome = run(
        call([gh], "deploy_rollback_release", service="web", environment="production", version="1.4.1")
    )
    assert outcome["status"] == "started"
    assert github.made("POST")[0].json()["inputs"] == {"environment": "production", "version": "1.4.1"}
