"""Deployment watch (issue 7 point 2): "watches over deployments during meetings".

When someone else's deployment of a watched service starts (`deployment.started`, from the deploy
connector's poll of the target; optionally only while the owner's calendar shows a meeting: the trigger's
`owner_in_meeting` condition), the playbook waits until the deployment finished, watches its health URL
and PromQL checks for a window (`deploy_watch_release`), posts each status line in a chat channel, and on
a regression rolls back (`deploy_rollback_release`: the run waits for the owner's approval, shown in their
Slack DM and the web inbox, unless an admin pre-approved the rollback). It ends with a summary to the
owner. Detection needs no model; with one, the model only writes that summary.

The event is trusted (the target's own names and validated versions), so the run is clean: a status post
in the granted channel is allowed by the gate.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from meshclaw.agents.playbooks.contract import Playbook, Refused, StepFailed
from meshclaw.agents.playbooks.event_input import trigger_event
from meshclaw.agents.playbooks.release_watch import Release, minutes, summarize, watch, window
from meshclaw.agents.spec import AgentSpec
from meshclaw.agents.templates import Template, TemplateSetting

if TYPE_CHECKING:
    from meshclaw.agents.playbooks.steps import Steps

NAME = "deployment-watch"
WAIT_SECONDS = 900
"""How long to wait for a started deployment to finish before watching it (the setting's default)."""


async def run(steps: Steps) -> dict[str, Any]:
    settings = steps.settings
    event = trigger_event(steps.request.input)
    if event is None or event.type != "deployment.started":
        return {"watched": False, "reason": "this agent watches deployments when a deployment.started "
                                            "event starts it"}  # fmt: skip
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
            await steps.tool("slack_post_message", account=settings["slack_account"],
                             channel=settings["channel"], text=text)  # fmt: skip

    now = await steps.tool("deploy_get_status", **release.target(),
                           wait_seconds=float(settings.get("wait_seconds", WAIT_SECONDS)))  # fmt: skip
    if now.get("known") and now["version"] != release.version:
        await say(
            f":fast_forward: {release.label} was replaced by {now['version']} before it could be watched."
        )
        return {"watched": False, "reason": f"superseded by {now['version']}"}
    if now.get("known") and now["state"] != "succeeded":
        await say(f":x: the deployment of {release.label} is {now['state']}; not watching it.")
        return {"watched": False, "reason": f"the deployment is {now['state']}"}
    chosen = window(settings)
    await say(f":eyes: {release.label} was deployed; watching its health and metrics"
              + (f" for {chosen:g} s." if chosen else "."))  # fmt: skip
    report = await watch(steps, release, say, window_seconds=chosen, saved=minutes(settings))
    summary = await summarize(steps, report)
    # the summary is still the run's answer
    with contextlib.suppress(Refused, StepFailed):
        await steps.tool("slack_notify_owner", account=settings["slack_account"], text=summary)
    return {**report, "watched": True, "summary": summary}


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
    deploy, slack, channel = values["deploy_account"], values["slack_account"], values["channel"]
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
                {"tool": "slack_post_message", "account": slack, "scopes": {"channels": [channel]}},
                {"tool": "slack_notify_owner", "account": slack},
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
                "slack_account": slack,
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
        "watch its health and metrics, post status in a Slack channel, roll back a regression (you approve, "
        "unless an admin pre-approved rollbacks) and send you a summary. Needs a deploy and a Slack account.",
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
                required=True,
                help="The Slack account that posts status (its owner gets the summary)",
            ),
            TemplateSetting(
                name="channel",
                label="Status channel",
                default="deploys",
                help="The channel name status lines go to (the bot must be in it)",
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
