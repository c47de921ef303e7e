"""Deploy on request (issue 7 point 3): "deploy web 1.4.2 to staging" in a Slack DM to the bot.

The message is untrusted, so it becomes one fixed action by the action-selector pattern: a strict grammar
(deploy_request.py) over the agent's closed sets of services and environments, and the model, if any, only
picks among those options when a name fits several. Free text never reaches an argument. The deploy
(`deploy_start_release`, effect `deploy`, in a run that read outsiders' text) then waits for a person's
approval per policy (`rule_of_two`; shown in the owner's Slack DM and the web inbox), runs, and is watched
like any deployment (release_watch.py), with status and the summary going to the owner's DM only
(`slack_notify_owner`): a tainted run may tell its owner, not post to others without approval.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from meshclaw.agents.playbooks.contract import Playbook, Refused, StepFailed
from meshclaw.agents.playbooks.deploy_request import EXAMPLE, Parsed, asks_to_deploy, parse
from meshclaw.agents.playbooks.deployment_watch import WAIT_SECONDS
from meshclaw.agents.playbooks.event_input import trigger_event
from meshclaw.agents.playbooks.release_watch import (
    Release,
    minutes,
    record_decision,
    summarize,
    watch,
    window,
)
from meshclaw.agents.spec import AgentSpec
from meshclaw.agents.templates import Template, TemplateSetting

if TYPE_CHECKING:
    from meshclaw.agents.playbooks.steps import Steps

NAME = "deploy-on-request"
DEPLOY = "deploy_start_release"


async def run(steps: Steps) -> dict[str, Any]:
    settings = steps.settings
    slack, deploy = str(settings["slack_account"]), str(settings["deploy_account"])
    event = trigger_event(steps.request.input)
    if event is None or event.type != "chat.dm_received" or event.fields.get("account") != slack:
        return {"deployed": False, "reason": "this agent acts on a Slack DM (chat.dm_received) to its bot"}
    user, ts = event.fields.get("user", ""), event.fields.get("ts", "")
    if "text" in event.fields and not asks_to_deploy(event.fields["text"]):
        # A question for the chat assistant or a note to someone: ending quietly only ever does less.
        return {"deployed": False, "reason": "not a deploy request"}

    async def tell_owner(text: str) -> None:
        # the run's steps show why; the answer still says what happened
        with contextlib.suppress(Refused, StepFailed):
            await steps.tool("slack_notify_owner", account=slack, text=text)

    requesters = _names(settings, "requesters")
    if requesters and user not in requesters:
        await tell_owner(
            f":no_entry: <@{user}> asked me to deploy; they are not among the people I take requests from."
        )
        return {"deployed": False, "reason": f"{user} may not request deploys"}
    read = await steps.tool("slack_read_direct_messages", account=slack, user=user, limit=20)
    text = next((str(message.get("text", "")) for conversation in read["conversations"]
                 for message in conversation["messages"] if message.get("ts") == ts), None)  # fmt: skip
    if text is None:
        return {"deployed": False, "reason": f"the message {ts} is not in the DM with {user}"}
    parsed = parse(text, _names(settings, "services"), _names(settings, "environments"))
    chosen = await _resolve(steps, text, parsed)
    if isinstance(chosen, str):
        steps.outcome("deploy_request.refused", reason=chosen[:200])
        await tell_owner(f":no_entry: I did not act on a deploy request from <@{user}>: {chosen}.")
        return {"deployed": False, "reason": chosen}
    service, environment = chosen
    release = Release(account=deploy, service=service, environment=environment, version=parsed.version)
    try:
        started = await steps.tool(DEPLOY, **release.target(), version=release.version)
    except Refused as refused:
        record_decision(steps, DEPLOY, release)
        await tell_owner(
            f":no_entry: {release.label} (asked by <@{user}>) was not deployed: {refused.reason}."
        )
        return {"deployed": False, "reason": refused.reason}
    record_decision(steps, DEPLOY, release)
    saved = minutes(settings)
    if started["status"] not in ("succeeded", "started", "already_done"):
        await tell_owner(f":x: deploying {release.label} {started['status']}: {started['detail']}")
        return {"deployed": False, "reason": f"the deploy {started['status']}"}
    steps.outcome("deployment.executed", minutes_saved=saved.deployed, service=service, environment=environment,
                  version=release.version)  # fmt: skip
    if started["status"] == "started":  # a pipeline or sync runs on its own: watch once it finished
        await steps.tool("deploy_get_status", **release.target(), wait_seconds=WAIT_SECONDS)
    chosen_window = window(settings)
    await tell_owner(f":rocket: deployed {release.label} as <@{user}> asked; watching it"
                     + (f" for {chosen_window:g} s." if chosen_window else "."))  # fmt: skip
    report = await watch(steps, release, tell_owner, window_seconds=chosen_window, saved=saved)
    summary = await summarize(steps, report)
    await tell_owner(summary)
    return {**report, "deployed": True, "requested_by": user, "summary": summary}


async def _resolve(steps: Steps, text: str, parsed: Parsed) -> tuple[str, str] | str:
    """The service and environment, or why not: the model only picks among the fitting options."""
    if parsed.refusal is not None:
        return parsed.refusal
    picked = {"service": parsed.service[0], "environment": parsed.environment[0]}
    for kind, options in parsed.ambiguous.items():
        label = await steps.choose(
            text, (*options, "none"),
            instructions=f"A person asked for a deployment. Which {kind} do they mean? Answer 'none' if the "
            "message does not say clearly.",
        )  # fmt: skip
        if label is None or label not in options:
            return f"the {kind} could be {' or '.join(options)}; say which, e.g. '{EXAMPLE}'"
        picked[kind] = label
    return picked["service"], picked["environment"]


def _names(settings: Mapping[str, Any], key: str) -> list[str]:
    value = settings.get(key, [])
    return [str(name) for name in value] if isinstance(value, list) else [str(value)] if value else []


def playbook() -> Playbook:
    return Playbook(name=NAME, title="Deploy on request", run=run)


def _split(text: str) -> list[str]:
    return [name.strip() for name in text.replace(",", " ").split() if name.strip()]


def build(agent_name: str, values: Mapping[str, str]) -> AgentSpec:
    services, environments = _split(values["services"]), _split(values["environments"])
    deploy, slack = values["deploy_account"], values["slack_account"]
    scopes = {"services": services, "environments": environments}
    deploy_tools = (
        "deploy_start_release",
        "deploy_get_status",
        "deploy_watch_release",
        "deploy_rollback_release",
    )
    return AgentSpec.model_validate(
        {
            "name": agent_name,
            "purpose": f"Deploy {', '.join(services)} to {', '.join(environments)} when asked in a Slack DM.",
            "template": NAME,
            "model": {"name": values["model"]} if values["model"] else None,
            "memory": False,
            "allow_overlap": True,
            "tools": [
                *({"tool": tool, "account": deploy, "scopes": scopes} for tool in deploy_tools),
                {"tool": "slack_read_direct_messages", "account": slack},
                {"tool": "slack_notify_owner", "account": slack},
            ],
            "triggers": [{"kind": "event", "event": "chat.dm_received", "match": {"account": slack}}],
            "limits": {"max_seconds": 3 * WAIT_SECONDS, "max_tool_calls": 20},
            "settings": {
                "deploy_account": deploy,
                "slack_account": slack,
                "services": services,
                "environments": environments,
                "requesters": _split(values["requesters"]),
                "window_seconds": float(values["window_seconds"] or 0),
                "minutes_deploy": float(values["minutes_deploy"]),
                "minutes_watched": float(values["minutes_watched"]),
                "minutes_regression": float(values["minutes_regression"]),
                "minutes_rollback": float(values["minutes_rollback"]),
            },
        }
    )


def template() -> Template:
    return Template(
        name=NAME,
        title="Deploy on request",
        description=f"DM the Slack bot '{EXAMPLE}': it becomes one fixed deploy of a service and environment "
        "you list, which you approve (in your Slack DM or the inbox); then it is watched and a regression rolled "
        "back. Anything else in the message is refused. Needs a deploy and a Slack account.",
        settings=(
            TemplateSetting(
                name="deploy_account",
                label="Deploy account",
                required=True,
                help="The deploy connector account (target) to deploy through",
            ),
            TemplateSetting(
                name="slack_account",
                label="Slack account",
                required=True,
                help="The Slack account whose bot takes the requests (its owner approves)",
            ),
            TemplateSetting(
                name="services",
                label="Services",
                default="web",
                help="Comma-separated: the only services a request may name",
            ),
            TemplateSetting(
                name="environments",
                label="Environments",
                default="staging",
                help="Comma-separated: the only environments a request may name",
            ),
            TemplateSetting(
                name="requesters",
                label="Who may ask",
                help="Comma-separated Slack user ids; empty: anyone who can DM the bot (you still approve)",
            ),
            TemplateSetting(
                name="window_seconds",
                label="Watch window (seconds)",
                default="",
                help="Empty: the deploy account's window",
            ),
            TemplateSetting(
                name="model",
                label="Model",
                help="Optional: picks among your services when a name fits several, writes the summary",
            ),
            TemplateSetting(name="minutes_deploy", label="Minutes saved per deploy", default="10"),
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
