"""Deployment watch (issue 7 point 2): "watches over deployments during meetings".

When someone else's deployment of a watched service starts (`deployment.started`, from the deploy
connector's poll of the target; optionally only while the owner's calendar shows a meeting: the trigger's
`owner_in_meeting` condition), the playbook waits until the deployment finished, watches its health URL
and PromQL checks for a window (`deploy_watch_release`), posts each status line in a chat channel, and on
a regression rolls back (`deploy_rollback_release`: the run waits for the owner's approval, shown in their
chat DM and the web inbox, unless an admin pre-approved the rollback). It ends with a summary to the
owner. Detection needs no model; with one, the model only writes that summary.

The event is trusted (the target's own names and validated versions), so the run is clean: a status post
in the granted channel is allowed by the gate.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from meshclaw.agents.chat_accounts import chosen, in_settings
from meshclaw.agents.playbooks.contract import Playbook, Refused, StepFailed
from meshclaw.agents.playbooks.release_watch import WAIT_SECONDS, Release, follow
from meshclaw.agents.runtime.event_input import trigger_event
from meshclaw.agents.spec import AgentSpec
from meshclaw.agents.templates import Template, TemplateSetting

if TYPE_CHECKING:
    from meshclaw.agents.playbooks.steps import Steps

NAME = "deployment-watch"
__all__ = ["NAME", "WAIT_SECONDS", "build", "playbook", "run", "template"]


async def run(steps: Steps) -> dict[str, Any]:
    settings = steps.settings
    event = trigger_event(steps.request.input)
    if event is None or event.type != "deployment.started":
        return {"watched": False, "reason": "this agent watches deployments when a deployment.started "
                                            "event starts it"}  # fmt: skip
    chat = in_settings(settings)
    if chat is None:
        return {"watched": False, "reason": "the agent's settings name no Slack or Matrix account"}
    fields = event.fields
    release = Release(account=fields.get("account", ""), service=fields.get("service", ""),
                      environment=fields.get("environment", ""), version=fields.get("version", ""))  # fmt: skip
    if (
        release.account != settings["deploy_account"]
        or release.service not in _names(settings, "services")
        or release.environment not in _names(settings, "environments")
    ):
        return {"watched": False, "reason": f"{release.label} ({release.account}) is not watched here"}

    async def say(text: str) -> None:
        # the run's steps show why; a status line must not stop the watch or a rollback
        with contextlib.suppress(Refused, StepFailed):
            await steps.tool(chat.post, account=chat.name, **{chat.place: settings["channel"]}, text=text)

    async def tell_owner(text: str) -> None:
        with contextlib.suppress(Refused, StepFailed):
            await steps.tool(chat.notify_owner, account=chat.name, text=text)

    followed = await follow(steps, release, say=say, tell_owner=tell_owner, settings=settings,
                            intro=f":eyes: {release.label} was deployed; watching its health and metrics")  # fmt: skip
    if isinstance(followed, str):
        return {"watched": False, "reason": followed}
    return {**followed, "watched": True}


def _names(settings: Mapping[str, Any], key: str) -> list[str]:
    value = settings.get(key, [])
    return [str(name) for name in value] if isinstance(value, list) else [str(value)]


def playbook() -> Playbook:
    return Playbook(name=NAME, title="Deployment watch", run=run)


def _split(text: str) -> list[str]:
    return [name.strip() for name in text.replace(",", " ").split() if name.strip()]


def _yes(text: str) -> bool:
    return text.strip().lower() in ("yes", "true", "1", "on")


def build(agent_name: str, values: Mapping[str, str]) -> AgentSpec:
    services, environments = _split(values["services"]), _split(values["environments"])
    chat = chosen(values, label=f"settings.slack_account: template '{NAME}'")
    deploy, channel = values["deploy_account"], values["channel"]
    scopes = {"services": services, "environments": environments}
    condition = "owner_in_meeting" if _yes(values["only_in_meetings"]) else None
    window_s = float(values["window_seconds"] or 0)
    return AgentSpec.model_validate(
        {
            "name": agent_name,
            "purpose": f"Watch deployments of {', '.join(services)} and roll back regressions.",
            "template": NAME,
            "model": {"name": values["model"]} if values["model"] else None,
            "memory": False,
            "allow_overlap": True,  # two deployments at once: each is watched by a run of its own
            "tools": [
                *(
                    {"tool": tool, "account": deploy, "scopes": scopes}
                    for tool in ("deploy_get_status", "deploy_watch_release", "deploy_rollback_release")
                ),
                {"tool": chat.post, "account": chat.name, "scopes": {"channels": [channel]}},
                {"tool": chat.notify_owner, "account": chat.name},
            ],
            "triggers": [
                {
                    "kind": "event",
                    "event": "deployment.started",
                    "match": {"account": deploy, "service": service},
                    "condition": condition,
                }
                for service in services
            ],
            # The wait for the deployment to finish plus the window, with room to spare.
            "limits": {"max_seconds": int(WAIT_SECONDS + max(window_s, 600) + 600), "max_tool_calls": 20},
            "settings": {
                "deploy_account": deploy,
                chat.setting: chat.name,
                "channel": channel,
                "services": services,
                "environments": environments,
                "window_seconds": window_s,
                "minutes_watched": float(values["minutes_watched"]),
                "minutes_regression": float(values["minutes_regression"]),
                "minutes_rollback": float(values["minutes_rollback"]),
            },
        }
    )


def template() -> Template:
    return Template(
        name=NAME,
        title="Deployment watch",
        description="When someone deploys a watched service (optionally only while you are in a meeting), "
        "watch its health and metrics, post status in a Slack channel or Matrix room, roll back a regression "
        "(you approve, unless an admin pre-approved rollbacks) and send you a summary. Needs a deploy account "
        "and a Slack or Matrix account.",
        settings=(
            TemplateSetting(
                name="deploy_account",
                label="Deploy account",
                required=True,
                help="The deploy connector account (target) whose deployments to watch",
            ),
            TemplateSetting(
                name="slack_account",
                label="Slack account",
                help="The Slack account that posts status (its owner gets the summary); or a Matrix account",
            ),
            TemplateSetting(
                name="matrix_account",
                label="Matrix account",
                help="Instead of Slack: the Matrix account that posts status (its owner gets the summary)",
            ),
            TemplateSetting(
                name="channel",
                label="Status channel",
                default="deploys",
                help="Where status lines go (the bot must be in it): a Slack channel name, or a Matrix room "
                "id or alias (#deploys:example.org)",
            ),
            TemplateSetting(name="services", label="Services", default="web", help="Comma-separated"),
            TemplateSetting(
                name="environments", label="Environments", default="production", help="Comma-separated"
            ),
            TemplateSetting(
                name="only_in_meetings",
                label="Only while I am in a meeting",
                default="no",
                help="yes: watch only while your calendar shows a meeting (needs a calendar account)",
            ),
            TemplateSetting(
                name="window_seconds",
                label="Watch window (seconds)",
                default="",
                help="Empty: the deploy account's window",
            ),
            TemplateSetting(
                name="model", label="Model", help="Optional: writes the summary; detection needs none"
            ),
            TemplateSetting(
                name="minutes_watched", label="Minutes saved per watched deployment", default="15"
            ),
            TemplateSetting(
                name="minutes_regression", label="Minutes saved per regression caught", default="30"
            ),
            TemplateSetting(name="minutes_rollback", label="Minutes saved per rollback", default="10"),
        ),
        build=build,
    )
