"""The command adapter's safety: argv arrays without a shell, placeholders replaced per element, versions
that cannot become options, a minimal environment, timeouts that kill, and replays answered from the
ledger instead of running again."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from meshclaw.connectors.deploy.config import DeployConfig
from meshclaw.connectors.deploy.ledger import Ledger
from meshclaw.connectors.deploy.names import check_version
from meshclaw.tools.registry import ToolError
from tests.connectors.deploy.conftest import account, call, run

RECORDER = str(Path(__file__).parent / "record_argv.py")
TARGET = {"service": "web", "environment": "staging"}


def config(tmp_path: Path, *, deploy: list[str] | None = None, **target: Any) -> DeployConfig:
    log = str(tmp_path / "calls.jsonl")
    return DeployConfig.model_validate(
        {
            "target": {
                "kind": "command",
                "state_dir": str(tmp_path / "state"),
                "commands": {
                    "web": {
                        "deploy": deploy or [sys.executable, RECORDER, log, "--version={version}", "{service}", "{environment}"],
                        "rollback": [sys.executable, RECORDER, log, "rollback", "{service}", "{environment}"],
                    }
                },
                **target,
            },
            "services": ["web"],
            "environments": ["staging"],
        }
    )  # fmt: skip


def calls(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "calls.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_placeholders_fill_each_element_and_the_environment_is_minimal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESHCLAW_SOMETHING_SECRET", "hunter2")
    staging = account("staging", config(tmp_path, env={"DEPLOY_USER": "meshclaw"}))
    outcome = run(call([staging], "deploy_start_release", version="1.0.0+build.5", **TARGET))
    assert outcome["status"] == "succeeded" and "deploy script output" in outcome["detail"]
    [made] = calls(tmp_path)
    assert made["argv"] == ["--version=1.0.0+build.5", "web", "staging"]
    assert made["env"]["DEPLOY_USER"] == "meshclaw"
    assert "MESHCLAW_SOMETHING_SECRET" not in made["env"]
    assert set(made["env"]) <= {"PATH", "HOME", "LANG", "DEPLOY_USER", "LC_CTYPE"}


@pytest.mark.parametrize(
    "version", ["--upload-pack=/tmp/evil", "-rf", "1.0 2.0", "1.0;id", "$(id)", "1.0\n--force", "../../etc", "{service}", ""]
)  # fmt: skip
def test_a_version_cannot_smuggle_an_option_or_a_second_word(tmp_path: Path, version: str) -> None:
    staging = account("staging", config(tmp_path))
    with pytest.raises(ValidationError):
        run(call([staging], "deploy_start_release", version=version, **TARGET))
    with pytest.raises(ToolError, match="is not allowed"):
        check_version(version)
    assert calls(tmp_path) == []


def test_only_listed_services_and_environments(tmp_path: Path) -> None:
    staging = account("staging", config(tmp_path))
    with pytest.raises(ToolError, match="environment 'production' is not one of staging"):
        run(call([staging], "deploy_start_release", service="web", environment="production", version="1.0.0"))
    with pytest.raises(ToolError, match="service 'db' is not one of web"):
        run(call([staging], "deploy_start_release", service="db", environment="staging", version="1.0.0"))
    assert calls(tmp_path) == []


def test_the_config_refuses_unknown_placeholders_and_relative_programs(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"'\{cmd\}'"):
        config(tmp_path, deploy=[sys.executable, "deploy", "{cmd}"])
    with pytest.raises(ValidationError, match="absolute path"):
        config(tmp_path, deploy=["deploy.sh", "{version}"])
    with pytest.raises(ValidationError, match="absolute path"):
        config(tmp_path, deploy=["/opt/{service}/deploy", "{version}"])


def test_a_failing_command_reports_its_status_and_output(tmp_path: Path) -> None:
    staging = account("staging", config(tmp_path, env={"EXIT_WITH": "3"}))
    outcome = run(call([staging], "deploy_start_release", version="1.0.1", **TARGET))
    assert outcome["status"] == "failed"
    assert outcome["detail"].startswith("exit status 3") and "deploy script output" in outcome["detail"]


def test_a_hanging_command_is_killed_at_its_timeout(tmp_path: Path) -> None:
    hang = [sys.executable, "-c", "import time; time.sleep(60)"]
    staging = account("staging", config(tmp_path, deploy=hang, timeout_seconds=1))
    clock = time.monotonic()
    outcome = run(call([staging], "deploy_start_release", version="1.0.2", **TARGET))
    assert time.monotonic() - clock < 10
    assert outcome["status"] == "failed" and "killed after 1 s" in outcome["detail"]


def test_a_missing_program_is_a_clear_error(tmp_path: Path) -> None:
    staging = account("staging", config(tmp_path, deploy=["/nonexistent/deploy", "{version}"]))
    with pytest.raises(ToolError, match="cannot run deploy"):
        run(call([staging], "deploy_start_release", version="1.0.3", **TARGET))


def test_the_same_key_runs_once_and_a_cut_off_call_is_not_repeated(tmp_path: Path) -> None:
    staging = account("staging", config(tmp_path))
    first = run(call([staging], "deploy_start_release", key="run-1:1", version="1.1.0", **TARGET))
    again = run(call([staging], "deploy_start_release", key="run-1:1", version="1.1.0", **TARGET))
    assert first["status"] == "succeeded"
    assert again["status"] == "already_done" and "deploy script output" in again["detail"]
    assert len(calls(tmp_path)) == 1
    # A call that claimed its key and died before finishing (a crash mid-deploy): not run again.
    run(Ledger(directory=tmp_path / "state").claim("run-1:2", {"action": "deploy", "version": "1.2.0"}))
    cut = run(call([staging], "deploy_start_release", key="run-1:2", version="1.2.0", **TARGET))
    assert cut["status"] == "unknown" and "deploy_get_status" in cut["detail"]
    assert len(calls(tmp_path)) == 1
    # Without a durable run's key every call runs.
    run(call([staging], "deploy_rollback_release", **TARGET))
    run(call([staging], "deploy_rollback_release", **TARGET))
    assert [c["argv"][0] for c in calls(tmp_path)] == ["--version=1.1.0", "rollback", "rollback"]


def test_a_rollback_command_that_names_a_version_needs_one(tmp_path: Path) -> None:
    log = str(tmp_path / "calls.jsonl")
    cfg = config(tmp_path).model_dump()
    cfg["target"]["commands"]["web"]["rollback"] = [sys.executable, RECORDER, log, "back-to={version}"]
    staging = account("staging", DeployConfig.model_validate(cfg))
    with pytest.raises(ToolError, match="needs a version"):
        run(call([staging], "deploy_rollback_release", **TARGET))
    run(call([staging], "deploy_rollback_release", version="0.9.0", **TARGET))
    assert calls(tmp_path)[0]["argv"] == ["back-to=0.9.0"]


def test_a_cancelled_run_kills_its_command_and_a_replay_does_not_rerun_it(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    hang = [sys.executable, "-c", "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)", str(pid_file)]  # fmt: skip
    staging = account("staging", config(tmp_path, deploy=hang))

    async def cancel_midway() -> int:
        task = asyncio.create_task(
            call([staging], "deploy_start_release", key="run-9:1", version="1.3.0", **TARGET)
        )
        while not pid_file.exists() or not pid_file.read_text():
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return int(pid_file.read_text())

    pid = run(cancel_midway())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    pid_file.unlink()
    replay = run(call([staging], "deploy_start_release", key="run-9:1", version="1.3.0", **TARGET))
    assert replay["status"] == "unknown" and not pid_file.exists()


def test_check_proves_the_programs_run_and_the_ledger_is_writable(tmp_path: Path) -> None:
    from meshclaw.connectors.deploy.manifest import connector

    assert run(connector().check(account("staging", config(tmp_path)))) == "executable commands for web"
    broken = account("staging", config(tmp_path, deploy=["/nonexistent/deploy", "{version}"]))
    with pytest.raises(ToolError, match=r"/nonexistent/deploy .*not an executable"):
        run(connector().check(broken))


STATUS_SCRIPT = """
import json, sys
from pathlib import Path
counter = Path(sys.argv[1])
n = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(n))
state = "running" if n <= 2 else "succeeded"
print(json.dumps({"id": "d-7", "version": "2.0.0", "state": state}))
"""


def test_status_can_wait_for_a_running_deployment_and_our_unfinished_rollback_is_ours(tmp_path: Path) -> None:
    counter, script = str(tmp_path / "asked"), tmp_path / "status.py"
    script.write_text(STATUS_SCRIPT)  # a file: the config refuses braces that are not placeholders
    configured = config(tmp_path).model_dump(mode="json")
    configured["target"]["commands"]["web"]["status"] = [sys.executable, str(script), counter]
    staging = account("staging", DeployConfig.model_validate(configured))
    at_once = run(call([staging], "deploy_get_status", **TARGET))
    assert (at_once["state"], at_once["ours"]) == ("running", False)
    waited = run(call([staging], "deploy_get_status", wait_seconds=10, **TARGET))
    assert waited["state"] == "succeeded" and Path(counter).read_text() == "3"  # asked again until done
    # A rollback of ours that has not reported back yet (it names no version): the deployment it made
    # is ours, so the event source does not announce it as someone else's.
    claimed = run(Ledger(directory=tmp_path / "state").claim("run-9:2", {"action": "rollback", "service": "web",
                                                                     "environment": "staging", "version": None}))  # fmt: skip
    assert claimed is None
    assert run(call([staging], "deploy_get_status", **TARGET))["ours"] is True
