"""The command adapter: each service's fixed actions (deploy, roll back, status), run as argv arrays with
`asyncio.create_subprocess_exec`, never through a shell.

Placeholders are replaced inside each element, so a value stays one argument whatever it holds, and the
values were validated before (names.py): a version cannot start with `-`, so it cannot smuggle an option.
The commands get a minimal environment (PATH, HOME, LANG and the account's `env`), not MeshClaw's own.
Replays of the same idempotency key are answered from the ledger (ledger.py) instead of running again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import uuid
from pathlib import Path

from meshclaw.connectors.deploy.config import CommandTarget, ServiceCommands
from meshclaw.connectors.deploy.ledger import Entry, Ledger
from meshclaw.connectors.deploy.names import VERSION, fill
from meshclaw.connectors.deploy.target import Action, Deployment, Outcome, OutcomeStatus
from meshclaw.tools.registry import ToolError

OUTPUT_TAIL = 2000
STATUS_TIMEOUT_S = 30


class CommandAdapter:
    def __init__(self, config: CommandTarget) -> None:
        self._config = config
        self._ledger = Ledger(directory=config.state_dir)

    async def deploy(self, service: str, environment: str, version: str, key: str | None) -> Outcome:
        argv = self._commands(service).deploy
        return await self._act("deploy", argv, service, environment, version, key)

    async def rollback(self, service: str, environment: str, version: str | None, key: str | None) -> Outcome:
        argv = self._commands(service).rollback
        return await self._act("rollback", argv, service, environment, version, key)

    async def status(self, service: str, environment: str) -> Deployment | None:
        argv = self._commands(service).status
        if argv is None:
            return None
        code, output = await self._run(self._argv(argv, service, environment, None), STATUS_TIMEOUT_S)
        if code != 0:
            raise ToolError(f"the status command for {service} in {environment} failed ({code}): {output}")
        try:
            found = json.loads(output.strip().splitlines()[-1])
            deployment_id, version, state = str(found["id"]), str(found["version"]), found["state"]
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise ToolError(
                f"the status command must print one JSON object with id, version and state; got {output[:200]!r}"
            ) from error
        if state not in ("running", "succeeded", "failed") or not VERSION.fullmatch(version):
            raise ToolError(f"the status command answered an unusable state or version: {output[:200]!r}")
        ours = await self._ours(deployment_id, service, environment, version, state)
        return Deployment(
            id=deployment_id, service=service, environment=environment, version=version, state=state,
            ours=ours,
        )  # fmt: skip

    async def check(self) -> str:
        for service, commands in self._config.commands.items():
            for argv in (commands.deploy, commands.rollback, commands.status):
                if argv is not None and not os.access(argv[0], os.X_OK):
                    raise ToolError(f"{argv[0]} (for {service}) is not an executable file")
        self._config.state_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(self._config.state_dir, os.W_OK):
            raise ToolError(f"cannot write the ledger in {self._config.state_dir}")
        return f"executable commands for {', '.join(self._config.commands)}"

    def _commands(self, service: str) -> ServiceCommands:
        commands = self._config.commands.get(service)
        if commands is None:
            raise ToolError(f"no commands configured for service '{service}'")
        return commands

    async def _act(
        self,
        action: Action,
        template: tuple[str, ...],
        service: str,
        environment: str,
        version: str | None,
        key: str | None,
    ) -> Outcome:
        argv = self._argv(template, service, environment, version)
        claim = key if key is not None else f"direct-{uuid.uuid4().hex}"
        record = {"action": action, "service": service, "environment": environment, "version": version}
        earlier = await self._ledger.claim(claim, record)
        if earlier is not None:
            return _replayed(earlier, action, service, environment, version)
        code, output = await self._run(argv, self._config.timeout_seconds)
        status: OutcomeStatus = "succeeded" if code == 0 else "failed"
        detail = output if code == 0 else f"exit status {code}: {output}"
        deployment_id = None
        if code == 0 and self._config.commands[service].status is not None:
            with contextlib.suppress(ToolError):
                after = await self.status(service, environment)
                deployment_id = after.id if after else None
        await self._ledger.finish(claim, {"status": status, "detail": detail, "deployment_id": deployment_id})
        return Outcome(
            status=status, action=action, service=service, environment=environment,
            version=version, detail=detail, reference=deployment_id,
        )  # fmt: skip

    def _argv(
        self, template: tuple[str, ...], service: str, environment: str, version: str | None
    ) -> list[str]:
        return [fill(part, service=service, environment=environment, version=version) for part in template]

    async def _run(self, argv: list[str], timeout: float) -> tuple[int, str]:
        env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
        env.update(self._config.env)
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,  # its own process group, so a timeout kills its children too
            )
        except OSError as error:
            raise ToolError(f"cannot run {Path(argv[0]).name}: {error.strerror}") from error
        try:
            out, _ = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            await _kill(process)
            return -1, f"killed after {timeout:g} s without finishing; it may be half done: check the status"
        except asyncio.CancelledError:
            # The run was stopped (a kill switch, a cancel): the command must not outlive it. Its ledger
            # entry stays `started`, so a replay answers `unknown` rather than deploying again.
            await _kill(process)
            raise
        text = out.decode(errors="replace").strip()
        return process.returncode or 0, text[-OUTPUT_TAIL:]

    async def _ours(
        self, deployment_id: str, service: str, environment: str, version: str, state: str
    ) -> bool:
        for entry in await self._ledger.entries():
            if entry.finished is not None and entry.finished.get("deployment_id") == deployment_id:
                return True
            started = entry.started
            # An unfinished call of ours for this service and environment: a deploy of this version, or
            # a rollback (which names no version when it returns to the previous one). Without the
            # rollback case, a poll during our own rollback announced it as someone else's deployment.
            if (
                entry.finished is None
                and (started.get("service"), started.get("environment")) == (service, environment)
                and started.get("version") in (version, None)
            ):
                return True
        return False


async def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the whole group: a deploy script's children too
    await process.wait()


def _replayed(earlier: Entry, action: Action, service: str, environment: str, version: str | None) -> Outcome:
    if earlier.finished is None:
        return Outcome(
            status="unknown", action=action, service=service, environment=environment,
            version=version,
            detail="a call with this idempotency key started this before and did not report back (cut off, "
            "or still running); it was not run again: check deploy_get_status",
        )  # fmt: skip
    return Outcome(
        status="already_done", action=action, service=service, environment=environment,
        version=version, reference=earlier.finished.get("deployment_id"),
        detail=f"done before with this idempotency key ({earlier.finished.get('status')}): "
        f"{earlier.finished.get('detail', '')}",
    )  # fmt: skip
