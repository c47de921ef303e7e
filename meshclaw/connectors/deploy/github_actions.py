"""The GitHub Actions adapter: a deploy is a `workflow_dispatch` of the service's workflow.

Written against GitHub's REST API documentation and tested with a contract fixture; it has NOT been run
against github.com (docs/connectors/deploy.md says so).

- `POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches` with `{"ref", "inputs"}` answers
  204 No Content (200 with `workflow_run_id` when the run's details are returned).
- `GET /repos/{owner}/{repo}/actions/workflows/{workflow}/runs` lists runs, newest first, each with `id`,
  `status` (queued, in_progress, completed...), `conclusion`, `display_title`, `head_sha`, `html_url`.
- Headers: `Authorization: Bearer <token>`, `Accept: application/vnd.github+json`,
  `X-GitHub-Api-Version: 2022-11-28`.

The API takes no idempotency key. With `key_input` set, the call's key goes into that input; a workflow
whose `run-name` shows it (`run-name: deploy ${{ inputs.version }} ${{ inputs.meshclaw_key }}`) makes the
run findable, so a repeated call first looks for a recent run with the key in its title and does not
dispatch again. Without it a replayed call can dispatch twice; the docs say so.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from meshclaw.connectors.deploy.config import GithubActionsTarget, GithubWorkflow
from meshclaw.connectors.deploy.target import Action, Deployment, DeploymentState, Outcome
from meshclaw.connectors.deploy.transport import request
from meshclaw.tools.registry import ToolError

API_VERSION = "2022-11-28"
RECENT_RUNS = 50


class GithubActionsAdapter:
    def __init__(self, config: GithubActionsTarget) -> None:
        self._config = config

    async def deploy(self, service: str, environment: str, version: str, key: str | None) -> Outcome:
        workflow = self._workflow(service)
        return await self._dispatch("deploy", workflow.deploy, workflow, service, environment, version, key)

    async def rollback(self, service: str, environment: str, version: str | None, key: str | None) -> Outcome:
        workflow = self._workflow(service)
        if workflow.rollback is None and version is None:
            raise ToolError(
                f"{service} has no rollback workflow; its deploy workflow rolls back by deploying the "
                "version to return to: pass `version`"
            )
        name = workflow.rollback or workflow.deploy
        return await self._dispatch("rollback", name, workflow, service, environment, version, key)

    async def status(self, service: str, environment: str) -> Deployment | None:
        runs = await self._runs(self._workflow(service).deploy, per_page=1)
        if not runs:
            return None
        run = runs[0]
        return Deployment(
            id=str(run["id"]), service=service, environment=environment,
            version=str(run.get("head_sha", ""))[:12] or "unknown", state=_state(run),
        )  # fmt: skip

    async def check(self) -> str:
        name = next(iter(self._config.workflows.values())).deploy
        async with self._client() as client:
            response = await request(
                client, "GET", self._url(f"actions/workflows/{quote(name)}"), what="workflow"
            )
        body = response.json()
        return f"workflow '{body.get('name', name)}' is {body.get('state', 'unknown')}"

    def _workflow(self, service: str) -> GithubWorkflow:
        workflow = self._config.workflows.get(service)
        if workflow is None:
            raise ToolError(f"no workflow configured for service '{service}'")
        return workflow

    def _url(self, path: str) -> str:
        owner, repo = quote(self._config.owner, safe=""), quote(self._config.repo, safe="")
        return f"{self._config.api.rstrip('/')}/repos/{owner}/{repo}/{path}"

    def _client(self) -> httpx.AsyncClient:
        headers = {
            "Authorization": f"Bearer {self._config.token.get_secret_value()}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "meshclaw-deploy",
        }
        return httpx.AsyncClient(timeout=self._config.timeout_seconds, headers=headers)

    async def _runs(self, workflow: str, *, per_page: int, event: str | None = None) -> list[dict[str, Any]]:
        params = {"per_page": str(per_page)}
        if event:
            params["event"] = event
        async with self._client() as client:
            response = await request(
                client, "GET", self._url(f"actions/workflows/{quote(workflow)}/runs"), what="workflow runs",
                params=params,
            )  # fmt: skip
        runs = response.json().get("workflow_runs", [])
        return [run for run in runs if isinstance(run, dict)]

    async def _dispatch(
        self,
        action: Action,
        name: str,
        workflow: GithubWorkflow,
        service: str,
        environment: str,
        version: str | None,
        key: str | None,
    ) -> Outcome:
        config = self._config
        if key is not None and config.key_input is not None:
            for run in await self._runs(name, per_page=RECENT_RUNS, event="workflow_dispatch"):
                if key in str(run.get("display_title", "")):
                    return Outcome(
                        status="already_done", action=action, service=service, environment=environment,
                        version=version, reference=str(run["id"]),
                        detail=f"run {run['id']} was dispatched with this idempotency key: {run.get('html_url', '')}",
                    )  # fmt: skip
        inputs: dict[str, str] = {config.environment_input: environment}
        if version is not None:
            inputs[config.version_input] = version
        if config.service_input is not None:
            inputs[config.service_input] = service
        if key is not None and config.key_input is not None:
            inputs[config.key_input] = key
        async with self._client() as client:
            response = await request(
                client, "POST", self._url(f"actions/workflows/{quote(name)}/dispatches"),
                what=f"{action} workflow dispatch", json={"ref": workflow.ref, "inputs": inputs},
            )  # fmt: skip
        reference = None
        if response.status_code == 200 and response.content:
            reference = str(response.json().get("workflow_run_id") or "") or None
        return Outcome(
            status="started", action=action, service=service, environment=environment, version=version,
            reference=reference, detail=f"dispatched workflow {name} on {workflow.ref}",
        )  # fmt: skip


def _state(run: dict[str, Any]) -> DeploymentState:
    if run.get("status") != "completed":
        return "running"
    return "succeeded" if run.get("conclusion") == "success" else "failed"
