"""One deployment account: a target (how releases are started and rolled back), the services and
environments it may touch, and how a release is watched (health URLs, Prometheus queries, thresholds).

Every value that reaches a command line or a query is checked here or in `names.py`: services and
environments are names from this config, versions match `VERSION`; so an argument can never become an
option (`--upload-pack=...`), a second word, or a break out of a PromQL string.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from meshclaw.connectors.contract import AccountConfig
from meshclaw.connectors.deploy.names import NAME, PLACEHOLDERS

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_argv(argv: tuple[str, ...], *, allowed: frozenset[str]) -> tuple[str, ...]:
    if not argv:
        raise ValueError("a command needs at least the program")
    if not Path(argv[0]).is_absolute() or _PLACEHOLDER.search(argv[0]):
        raise ValueError(f"the program '{argv[0]}' must be an absolute path without placeholders")
    for element in argv[1:]:
        for found in _PLACEHOLDER.findall(element):
            if found not in allowed:
                raise ValueError(f"'{found}' in '{element}' is not one of {', '.join(sorted(allowed))}")
    return argv


class ServiceCommands(_Part):
    """The fixed actions of one service, each an argv array run without a shell. `{service}`,
    `{environment}` and `{version}` are replaced inside each element; nothing else is."""

    deploy: tuple[str, ...] = Field(description="Deploy {version} of {service} to {environment}.")
    rollback: tuple[str, ...] = Field(
        description="Roll {service} in {environment} back (to {version} when it names one)."
    )
    status: tuple[str, ...] | None = Field(
        default=None,
        description="Prints one JSON object {id, version, state} for {service} in {environment}; lets the "
        "event source see deployments started by others.",
    )

    @field_validator("deploy", "rollback")
    @classmethod
    def _actions(cls, argv: tuple[str, ...]) -> tuple[str, ...]:
        return _check_argv(argv, allowed=PLACEHOLDERS)

    @field_validator("status")
    @classmethod
    def _status(cls, argv: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if argv is None:
            return None
        return _check_argv(argv, allowed=PLACEHOLDERS - {"{version}"})


class CommandTarget(_Part):
    kind: Literal["command"] = "command"
    commands: dict[str, ServiceCommands] = Field(description="Per service, its fixed actions.")
    state_dir: Path = Field(
        description="Where the adapter keeps its ledger of deploys by idempotency key (one file)."
    )
    timeout_seconds: float = Field(default=900, gt=0, le=7200)
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Environment of the commands besides PATH, HOME and LANG (MeshClaw's own is not passed).",
    )


class WebhookTarget(_Part):
    """A CI pipeline or deploy service triggered by a signed POST."""

    kind: Literal["webhook"] = "webhook"
    deploy_url: str = Field(description="POSTed {action: deploy, service, environment, version}.")
    rollback_url: str | None = Field(default=None, description="Default: deploy_url with action rollback.")
    status_url: str | None = Field(
        default=None,
        description="GET with ?service=&environment= answering {id, version, state}; for status and events.",
    )
    secret: SecretStr = Field(description="HMAC-SHA256 key of the signature header.")
    signature_header: str = "X-MeshClaw-Signature"
    timeout_seconds: float = Field(default=30, gt=0, le=300)


class GithubWorkflow(_Part):
    deploy: str = Field(description="Workflow file name or id, e.g. deploy.yml.")
    rollback: str | None = Field(
        default=None, description="Default: the deploy workflow with the version to return to."
    )
    ref: str = Field(default="main", description="Branch or tag the workflow runs from.")


class GithubActionsTarget(_Part):
    kind: Literal["github_actions"] = "github_actions"
    api: str = Field(default="https://api.github.com", description="GitHub Enterprise: https://HOST/api/v3.")
    owner: str
    repo: str
    token: SecretStr = Field(description="Fine-grained token with actions:write on the repository.")
    workflows: dict[str, GithubWorkflow] = Field(description="Per service.")
    version_input: str = "version"
    environment_input: str = "environment"
    service_input: str | None = None
    key_input: str | None = Field(
        default=None,
        description="Input that receives the call's idempotency key; with `run-name` showing it, a "
        "repeated call finds the run it already dispatched instead of dispatching again.",
    )
    timeout_seconds: float = Field(default=30, gt=0, le=300)


class ArgoCDTarget(_Part):
    kind: Literal["argocd"] = "argocd"
    server: str = Field(description="https://argocd.example.org")
    token: SecretStr = Field(description="An Argo CD account token (Bearer).")
    applications: dict[str, dict[str, str]] = Field(
        description="Per service, per environment, the Argo CD application name."
    )
    app_namespace: str | None = None
    timeout_seconds: float = Field(default=30, gt=0, le=300)


Target = Annotated[
    CommandTarget | WebhookTarget | GithubActionsTarget | ArgoCDTarget, Field(discriminator="kind")
]


class PromCheck(_Part):
    name: str = Field(pattern=NAME.pattern, description="e.g. error_rate, latency_p95")
    query: str = Field(
        description="PromQL with {version}, {service}, {environment} replaced; must return one number. "
        'Filter by version (`version="{version}"`): a rate window still holds the old release\'s series.'
    )
    max: float = Field(description="Breached when the value is above this.")
    on_no_data: Literal["ignore", "breach"] = "ignore"


class WatchConfig(_Part):
    health: dict[str, str] = Field(
        default_factory=dict, description="Per environment, a URL that answers 2xx when healthy."
    )
    health_version_field: str | None = Field(
        default="version",
        description="JSON field of the health answer that must equal the version; None to skip.",
    )
    prometheus: str | None = Field(default=None, description="Prometheus base URL.")
    checks: tuple[PromCheck, ...] = ()
    window_seconds: float = Field(default=120, gt=0, le=3600)
    interval_seconds: float = Field(default=5, gt=0, le=300)
    consecutive_breaches: int = Field(default=3, ge=1, le=100)
    timeout_seconds: float = Field(default=5, gt=0, le=60)

    @model_validator(mode="after")
    def _prometheus_for_checks(self) -> WatchConfig:
        if self.checks and not self.prometheus:
            raise ValueError("PromQL checks need `prometheus` (its base URL)")
        return self


class DeployConfig(AccountConfig):
    target: Target
    services: tuple[str, ...] = Field(min_length=1)
    environments: tuple[str, ...] = Field(min_length=1)
    watch: WatchConfig = WatchConfig()
    poll_seconds: float = Field(default=30, ge=1, le=3600, description="How often events poll the target.")

    @field_validator("services", "environments")
    @classmethod
    def _names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            if not NAME.match(name):
                raise ValueError(f"'{name}' must match {NAME.pattern}")
        return names

    @model_validator(mode="after")
    def _covered(self) -> DeployConfig:
        per_service: set[str] = set()
        if isinstance(self.target, CommandTarget):
            per_service = set(self.target.commands)
        elif isinstance(self.target, GithubActionsTarget):
            per_service = set(self.target.workflows)
        elif isinstance(self.target, ArgoCDTarget):
            per_service = set(self.target.applications)
            for service, apps in self.target.applications.items():
                if missing := set(self.environments) - set(apps):
                    raise ValueError(f"service '{service}' has no application for {sorted(missing)}")
        else:
            per_service = set(self.services)
        if missing := set(self.services) - per_service:
            raise ValueError(f"the target has nothing configured for services {sorted(missing)}")
        return self
