"""Deploy on request (issue 7 point 3): "deploy web 1.4.2 to staging" to the chat bot, in a DM or as a
mention in one of the agent's channels (Slack `app_mention`, a Matrix room message naming the bot).

The message is untrusted, so it becomes one fixed action by the action-selector pattern: a strict grammar
(deploy_request.py) over the agent's closed sets of services and environments, and the model, if any, only
picks among those options when a name fits several. Free text never reaches an argument. The deploy
(`deploy_start_release`, effect `deploy`, in a run that read outsiders' text) then waits for a person's
approval per policy (`rule_of_two`; shown in the owner's chat DM and the web inbox; only the owner's answer
there counts), runs, and is watched like any deployment (release_watch.py), with status and the summary
going to the owner's DM only (`<connector>_notify_owner`).

Who may ask: in a channel, the owner, or only the listed `requesters` when there are some; the triggers
match exactly those authors (the chat server's, not the text's), so anyone else's mention starts nothing,
and the playbook checks again against the message as the chat server has it (chat_request.py). In a DM,
the listed `requesters`, or anyone who can DM the bot when the list is empty (the owner approves every
deploy anyway). A request in a channel is answered there: reactions on it (no approval: an internal write)
and, once deployed and watched, one reply in its thread, which the owner approves like any post of a run
that read outsiders' text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from meshclaw.agents.chat_accounts import ChatAccount, chosen, in_settings
from meshclaw.agents.playbooks.chat_request import ChatRequest, from_event, mark, read_text, reply, tell_owner
from meshclaw.agents.playbooks.contract import Playbook, Refused
from meshclaw.agents.playbooks.deploy_request import ADDRESSED, EXAMPLE, Parsed, asks_to_deploy, parse
from meshclaw.agents.playbooks.release_watch import (
    WAIT_SECONDS,
    Release,
    facts,
    follow,
    minutes,
    record_decision,
)
from meshclaw.agents.runtime.event_input import trigger_event
from meshclaw.agents.spec import AgentSpec
from meshclaw.agents.templates import Template, TemplateSetting

if TYPE_CHECKING:
    from meshclaw.agents.playbooks.steps import Steps

NAME = "deploy-on-request"
DEPLOY = "deploy_start_release"
NOT_A_REQUEST = "this agent acts on a chat message to its bot (a DM, or a mention in one of its channels)"


async def run(steps: Steps) -> dict[str, Any]:
    settings = steps.settings
    chat = in_settings(settings)
    event = trigger_event(steps.request.input)
    request = from_event(event, chat) if chat is not None else None
    if event is None or request is None:
        return {"deployed": False, "reason": NOT_A_REQUEST}
    if "text" in event.fields and not asks_to_deploy(event.fields["text"]):
        # A question for the chat assistant or a note to someone: ending quietly only ever does less.
        return {"deployed": False, "reason": "not a deploy request"}
    refused = _not_taken(settings, request)
    if refused is not None:
        await tell_owner(steps, request.chat, f":no_entry: {request.who} asked me to deploy; {refused}.")
        return {"deployed": False, "reason": f"{request.author} may not request deploys here: {refused}"}
    text = await read_text(steps, request)
    if text is None:
        return {"deployed": False, "reason": f"the message {request.message} by {request.author} is not where "
                                             "the event says"}  # fmt: skip
    parsed = parse(text, _names(settings, "services"), _names(settings, "environments"))
    chosen = await _resolve(steps, text, parsed)
    if isinstance(chosen, str):
        steps.outcome("deploy_request.refused", reason=chosen[:200])
        await mark(steps, request, "refused")
        await tell_owner(steps, request.chat, f":no_entry: I did not act on a deploy request from {request.who}: "
                                              f"{chosen}.")  # fmt: skip
        return {"deployed": False, "reason": chosen}
    service, environment = chosen
    release = Release(account=str(settings["deploy_account"]), service=service, environment=environment,
                      version=parsed.version)  # fmt: skip
    return await _deploy(steps, request, release)


async def _deploy(steps: Steps, request: ChatRequest, release: Release) -> dict[str, Any]:
    settings, chat = steps.settings, request.chat

    async def to_owner(text: str) -> None:
        await tell_owner(steps, chat, text)

    try:
        started = await steps.tool(DEPLOY, **release.target(), version=release.version)
    except Refused as refused:
        record_decision(steps, DEPLOY, release)
        await mark(steps, request, "refused")
        await to_owner(
            f":no_entry: {release.label} (asked by {request.who}) was not deployed: {refused.reason}."
        )
        return {"deployed": False, "reason": refused.reason}
    record_decision(steps, DEPLOY, release)
    if started["status"] not in ("succeeded", "started", "already_done"):
        await mark(steps, request, "refused")
        await to_owner(f":x: deploying {release.label} {started['status']}: {started['detail']}")
        return {"deployed": False, "reason": f"the deploy {started['status']}"}
    steps.outcome("deployment.executed", minutes_saved=minutes(settings).deployed, service=release.service,
                  environment=release.environment, version=release.version)  # fmt: skip
    await mark(steps, request, "deployed")
    # A pipeline or sync that runs on its own ("started"): watch once it finished.
    followed = await follow(steps, release, say=to_owner, tell_owner=to_owner, settings=settings,
                            wait=started["status"] == "started",
                            intro=f":rocket: deployed {release.label} as {request.who} asked; watching it")  # fmt: skip
    if isinstance(followed, str):
        return {"deployed": True, "watched": False, "reason": followed, "requested_by": request.author}
    verdict = str(followed["verdict"])
    await mark(
        steps,
        request,
        "healthy" if verdict == "healthy" else "regressed" if verdict == "regressed" else "inconclusive",
    )
    answer: dict[str, Any] = {**followed, "deployed": True, "requested_by": request.author}
    if request.kind == "mention":
        # Facts built by code (never the model's summary): what the requester's thread is told.
        answer["reply"] = await reply(
            steps, request, f"{release.label}, as {request.who} asked: {facts(followed)}"
        )
    return answer


def _not_taken(settings: Mapping[str, Any], request: ChatRequest) -> str | None:
    """Why this agent does not take the request (None: it does): the channel, or the author."""
    requesters = _names(settings, "requesters")
    if request.kind == "mention":
        if request.place not in _names(settings, "channels"):
            return "I take requests in no channel but mine"
        allowed = request.author in requesters if requesters else request.from_owner
        return None if allowed else "they are not among the people I take requests from"
    if requesters and request.author not in requesters:
        return "they are not among the people I take requests from"
    return None


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


def _chat_grants(chat: ChatAccount, channels: list[str]) -> list[dict[str, Any]]:
    """Reading the request back and telling the owner; in channels, marking and answering requests."""
    scoped = {"channels": channels}
    in_channels: tuple[str, ...]
    if chat.connector == "slack":
        grants: list[dict[str, Any]] = [
            {"tool": "slack_read_direct_messages", "account": chat.name},
            {"tool": "slack_notify_owner", "account": chat.name},
        ]
        in_channels = ("slack_read_bot_mentions", "slack_read_thread_replies", "slack_add_reaction",
                       "slack_reply_thread")  # fmt: skip
    else:
        grants = [
            # unscoped: a DM's room is not known in advance (reading is contained; it taints the run)
            {"tool": "matrix_read_messages", "account": chat.name},
            {"tool": "matrix_notify_owner", "account": chat.name},
        ]
        in_channels = ("matrix_add_reaction", "matrix_post_message")
    if channels:
        grants += [{"tool": tool, "account": chat.name, "scopes": scoped} for tool in in_channels]
    return grants


def _triggers(chat: ChatAccount, channels: list[str], requesters: list[str]) -> list[dict[str, Any]]:
    """DMs on the account; mentions in each channel by exactly the authors who may ask there (the chat
    server's author field, so nobody else's mention starts a run)."""
    # Only messages that start like a deploy request start a run: the owner's chat assistant (a fallback
    # trigger on the same DMs) answers everything else, and this agent claims these from it.
    addressed = {"text_matches": ADDRESSED.pattern}
    triggers: list[dict[str, Any]] = [
        {"kind": "event", "event": "chat.dm_received", "match": {"account": chat.name}, **addressed}
    ]
    authors = [{chat.author: requester} for requester in requesters] or [{"from_owner": "true"}]
    triggers += [
        {
            "kind": "event",
            "event": "chat.mentioned",
            "match": {"account": chat.name, chat.place: channel, **author},
            **addressed,
        }
        for channel in channels
        for author in authors
    ]
    return triggers


def build(agent_name: str, values: Mapping[str, str]) -> AgentSpec:
    services, environments = _split(values["services"]), _split(values["environments"])
    chat = chosen(values, label=f"settings.slack_account: template '{NAME}'")
    deploy, channels, requesters = (
        values["deploy_account"],
        _split(values["channels"]),
        _split(values["requesters"]),
    )
    scopes = {"services": services, "environments": environments}
    deploy_tools = (
        "deploy_start_release",
        "deploy_get_status",
        "deploy_watch_release",
        "deploy_rollback_release",
    )
    where = f"a {chat.title} DM" + (" or a mention in a channel" if channels else "")
    return AgentSpec.model_validate(
        {
            "name": agent_name,
            "purpose": f"Deploy {', '.join(services)} to {', '.join(environments)} when asked in {where}.",
            "template": NAME,
            "model": {"name": values["model"]} if values["model"] else None,
            "memory": False,
            "allow_overlap": True,
            "tools": [
                *({"tool": tool, "account": deploy, "scopes": scopes} for tool in deploy_tools),
                *_chat_grants(chat, channels),
            ],
            "triggers": _triggers(chat, channels, requesters),
            "limits": {"max_seconds": 3 * WAIT_SECONDS, "max_tool_calls": 20},
            "settings": {
                "deploy_account": deploy,
                chat.setting: chat.name,
                "services": services,
                "environments": environments,
                "requesters": requesters,
                "channels": channels,
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
        description=f"DM the chat bot '{EXAMPLE}', or mention it so in a channel you list: it becomes one fixed "
        "deploy of a service and environment you list, which you approve (in your chat DM or the inbox); then "
        "it is watched, a regression rolled back, and a channel's request answered in its thread. Anything else "
        "in the message is refused. Needs a deploy account and a Slack or Matrix account.",
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
                help="The Slack account whose bot takes the requests (its owner approves); or a Matrix account",
            ),
            TemplateSetting(
                name="matrix_account",
                label="Matrix account",
                help="Instead of Slack: the Matrix account whose bot takes the requests (its owner approves)",
            ),
            TemplateSetting(
                name="channels",
                label="Channels",
                help="Comma-separated Slack channel ids (C0123ABCD) or Matrix room ids where a mention of the bot "
                "may ask; empty: DMs only",
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
                help="Comma-separated Slack or Matrix user ids; empty: in a DM anyone who can DM the bot (you "
                "still approve), in a channel you only",
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
