"""Watching one release and saying how it went: shared by the deployment-watch and deploy-on-request
playbooks. `follow` is their common tail (wait until the deployment finished, say so, watch, summarize to
the owner); `watch` the watch itself.

Detection is the deploy connector's (`deploy_watch_release`: health URL and PromQL checks against their
thresholds, `consecutive_breaches` samples in a row); this module turns its verdict into status messages,
a rollback and outcomes, by code. No model sees a metric or decides anything here. A regression leads to
`deploy_rollback_release`, which the policy gate holds for a person (effect `deploy`) unless an admin
pre-approved it; the run then waits, and the playbook is replayed from its record once the person answered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meshclaw.agents.playbooks.contract import Refused, StepFailed

if TYPE_CHECKING:
    from meshclaw.agents.playbooks.steps import Steps

Say = Callable[[str], Awaitable[None]]
"""Where status lines go (a channel, the owner's DM): failures to say something never stop a rollback."""

ROLLBACK = "deploy_rollback_release"
WAIT_SECONDS = 900
"""How long to wait for a started deployment to finish before watching it (the `wait_seconds` default)."""
MARK = {"healthy": ":white_check_mark:", "inconclusive": ":grey_question:", "regressed": ":rotating_light:"}


@dataclass(frozen=True, kw_only=True)
class Release:
    account: str
    service: str
    environment: str
    version: str

    @property
    def label(self) -> str:
        return f"{self.service} {self.version} in {self.environment}"

    def target(self) -> dict[str, str]:
        return {"account": self.account, "service": self.service, "environment": self.environment}


@dataclass(frozen=True, kw_only=True)
class Minutes:
    """Minutes a person would have spent, per outcome (the agent's settings override the defaults)."""

    watched: float = 15.0
    """Watching dashboards through a deployment's first minutes."""
    caught: float = 30.0
    """Noticing a regression, finding the failing metric and deciding to roll back."""
    rolled_back: float = 10.0
    """Running the rollback and checking the service came back."""
    deployed: float = 10.0
    """Running a requested deploy by hand."""


def minutes(settings: Mapping[str, Any]) -> Minutes:
    defaults = Minutes()
    return Minutes(
        watched=float(settings.get("minutes_watched", defaults.watched)),
        caught=float(settings.get("minutes_regression", defaults.caught)),
        rolled_back=float(settings.get("minutes_rollback", defaults.rolled_back)),
        deployed=float(settings.get("minutes_deploy", defaults.deployed)),
    )


def window(settings: Mapping[str, Any]) -> float | None:
    """The watch window the agent asks for; None: the deploy account's own `window_seconds`."""
    value = float(settings.get("window_seconds", 0) or 0)
    return value if value > 0 else None


def record_decision(steps: Steps, tool: str, release: Release) -> None:
    """`approval.granted` / `approval.denied` when a person decided the latest call of `tool`."""
    person = steps.decided_by_person(tool)
    if person is not None:
        steps.outcome(f"approval.{'granted' if person else 'denied'}", accepted=person, tool=tool,
                      service=release.service, environment=release.environment)  # fmt: skip


async def follow(
    steps: Steps, release: Release, *, say: Say, tell_owner: Say, settings: Mapping[str, Any], intro: str,
    wait: bool = True,
) -> dict[str, Any] | str:  # fmt: skip
    """The common tail of both playbooks: wait (`wait`) until the deployment stopped running, say `intro`
    and the window, watch, and tell the owner the summary. The report with its `summary`, or why the
    release was not watched (superseded, failed), which was said."""
    if wait:
        now = await steps.tool("deploy_get_status", **release.target(),
                               wait_seconds=float(settings.get("wait_seconds", WAIT_SECONDS)))  # fmt: skip
        if now.get("known") and now["version"] != release.version:
            await say(
                f":fast_forward: {release.label} was replaced by {now['version']} before it could be watched."
            )
            return f"superseded by {now['version']}"
        if now.get("known") and now["state"] != "succeeded":
            await say(f":x: the deployment of {release.label} is {now['state']}; not watching it.")
            return f"the deployment is {now['state']}"
    chosen = window(settings)
    await say(intro + (f" for {chosen:g} s." if chosen else "."))
    report = await watch(steps, release, say, window_seconds=chosen, saved=minutes(settings))
    summary = await summarize(steps, report)
    await tell_owner(summary)  # the summary is also the run's answer
    return {**report, "summary": summary}


async def watch(
    steps: Steps, release: Release, say: Say, *, window_seconds: float | None, saved: Minutes
) -> dict[str, Any]:
    """Watch the release, say the verdict, roll back a regression; what happened, for the summary."""
    args: dict[str, Any] = {**release.target(), "version": release.version}
    if window_seconds is not None:
        args["window_seconds"] = window_seconds
    verdict = await steps.tool("deploy_watch_release", **args)
    status = str(verdict["status"])
    report: dict[str, Any] = {"release": release.label, "verdict": status, "detail": verdict["detail"],
                              "watched_seconds": verdict["watched_seconds"]}  # fmt: skip
    steps.outcome("deployment.watched", minutes_saved=saved.watched, service=release.service,
                  environment=release.environment, version=release.version, verdict=status)  # fmt: skip
    if status != "regressed":
        await say(f"{MARK.get(status, '')} {release.label}: {status} after {verdict['watched_seconds']:g} s "
                  f"({verdict['detail']}).")  # fmt: skip
        return report
    check, value, threshold = verdict["failing_check"], verdict["value"], verdict["threshold"]
    report.update(failing_check=check, value=value, threshold=threshold,
                  detected_after_seconds=verdict["detected_after_seconds"])  # fmt: skip
    steps.outcome("regression.caught", minutes_saved=saved.caught, service=release.service,
                  environment=release.environment, version=release.version, check=str(check),
                  detected_after_seconds=float(verdict["detected_after_seconds"] or 0))  # fmt: skip
    shown = f"{value:.3g}" if isinstance(value, int | float) else "no answer"
    limit = f" over its limit {threshold:g}" if isinstance(threshold, int | float) else ""
    await say(f"{MARK['regressed']} {release.label} regressed: {check} = {shown}{limit}, "
              f"{verdict['detected_after_seconds']:g} s into the watch. Rolling it back "
              "(a person approves that unless an admin pre-approved it).")  # fmt: skip
    report["rollback"] = await _roll_back(steps, release, say, saved)
    return report


async def _roll_back(steps: Steps, release: Release, say: Say, saved: Minutes) -> str:
    try:
        back = await steps.tool(ROLLBACK, **release.target())
    except Refused as refused:
        record_decision(steps, ROLLBACK, release)
        await say(f":warning: {release.label} was not rolled back: {refused.reason}. It is still live.")
        return f"refused: {refused.reason}"
    except StepFailed as failed:
        await say(f":x: rolling back {release.label} failed: {failed.message}. Check it by hand.")
        return f"failed: {failed.message}"
    record_decision(steps, ROLLBACK, release)
    if back["status"] not in ("succeeded", "started", "already_done"):
        await say(f":x: rolling back {release.label}: {back['status']} ({back['detail']}). Check it by hand.")
        return str(back["status"])
    steps.outcome("rollback.executed", minutes_saved=saved.rolled_back, service=release.service,
                  environment=release.environment, version=release.version)  # fmt: skip
    live = await steps.tool("deploy_get_status", **release.target(), wait_seconds=300)
    now = f"{live['version']} ({live['state']})" if live.get("known") else "the previous version"
    await say(f":leftwards_arrow_with_hook: rolled {release.service} in {release.environment} back from "
              f"{release.version}: it runs {now}.")  # fmt: skip
    return f"{back['status']}: runs {now}"


def facts(report: Mapping[str, Any]) -> str:
    """The watch's result as plain sentences, built by code: the summary when there is no model, and what
    the model is given to write one from."""
    lines = [
        f"{report['release']}: {report['verdict']} ({report['detail']}), watched {report['watched_seconds']:g} s."
    ]
    if report["verdict"] == "regressed":
        lines.append(f"Failing check: {report['failing_check']} = {report['value']} (limit {report['threshold']}), "
                     f"detected after {report['detected_after_seconds']} s.")  # fmt: skip
        lines.append(f"Rollback: {report.get('rollback', 'not attempted')}.")
    return " ".join(lines)


async def summarize(steps: Steps, report: Mapping[str, Any]) -> str:
    """The closing summary: written by the model when the agent has one (`Steps.write`: no tools, and its
    text only ever reaches the owner), else the facts as they are."""
    text = facts(report)
    written = await steps.write(
        text,
        instructions="Summarize this deployment watch for the service's owner in at most three short "
        "sentences: what was deployed, whether it stayed healthy, and any rollback. Use only these facts.",
        max_chars=600,
    )
    return written or text
