"""MCP servers as toolsets, over stdio and streamable HTTP: tools named `<server>_<tool>`, unclassified
tools wait for approval (then run once), classified ones follow their class, and a server that hangs,
crashes or cannot start ends the run with a clear status while this process carries on."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from meshclaw.agents.runtime.contract import ApprovalDecision, ResumeState, RunResult
from meshclaw.agents.runtime.default_gate import DefaultGate
from meshclaw.agents.runtime.loop import execute
from meshclaw.agents.runtime.testing import Call, RecordingSink, Say, ScriptedModels
from meshclaw.tools.effects import EffectClass
from meshclaw.tools.registry import ToolRegistry
from tests.agents.runtime.conftest import agent, request, run
from tests.conftest import free_port

SERVER = str(Path(__file__).with_name("mcp_server.py"))
POST = {"channel": "ops", "text": "hi"}


def stdio(log: Path, **extra: Any) -> dict[str, Any]:
    return {"name": "chat", "command": [sys.executable, SERVER], "env": {"MCP_TEST_LOG": str(log)}, **extra}


def go(
    server: dict[str, Any], models: ScriptedModels, sink: RecordingSink | None = None, **fields: Any
) -> RunResult:
    req = request(agent(mcp_servers=[server]), **fields)
    return run(
        execute(
            req, sink=sink or RecordingSink(), gate=DefaultGate(), tools=ToolRegistry(), model_factory=models
        )
    )


def test_stdio_unclassified_tool_waits_for_approval_then_runs_once(tmp_path: Path) -> None:
    log = tmp_path / "posted.log"
    models = ScriptedModels([Call("chat_post_message", POST, tool_call_id="c1"), Say("Posted.")])
    sink = RecordingSink()
    first = go(stdio(log), models, sink)
    assert first.status == "waiting_approval", first.error
    [pending] = first.pending
    assert (pending.tool_name, pending.effect, dict(pending.args)) == (
        "chat_post_message",
        EffectClass.DESTRUCTIVE,
        POST,
    )
    assert not log.exists()
    assert first.history is not None
    yes = ApprovalDecision(tool_call_id="c1", approved=True, args_digest=pending.args_digest)
    second = go(stdio(log), models, sink, resume=ResumeState(history=first.history, decisions=(yes,)))
    assert (second.status, second.output) == ("succeeded", "Posted."), second.error
    assert log.read_text() == "ops:hi\n"
    assert "posted to #ops: hi" in str(models.requests[-2][-1])
    # Nobody classified the tool, so its result is untrusted: the answer was written again without it.
    assert second.clean_answer and "posted to #ops" not in str(models.requests[-1])
    assert [s.status for s in sink.tools] == ["pending", "ok"]


def test_a_hanging_tool_times_out(tmp_path: Path) -> None:
    models = ScriptedModels([Call("chat_hang"), Say("x")])
    sink = RecordingSink()
    started = time.monotonic()
    result = go(stdio(tmp_path / "log", timeout_seconds=1), models, sink,
                mcp_effects={"chat_hang": EffectClass.READ_PRIVATE})  # fmt: skip
    assert result.status == "failed"
    assert (
        result.error is not None and "did not answer within 1 s" in result.error and "'chat'" in result.error
    )
    assert time.monotonic() - started < 15
    assert sink.tools[-1].status == "error"


def test_a_crashing_server_fails_the_run_and_the_next_run_works(tmp_path: Path) -> None:
    """Also: a tool an admin classified follows its class (read_private here: no approval needed)."""
    log = tmp_path / "posted.log"
    effects = {"chat_crash": EffectClass.READ_PRIVATE, "chat_post_message": EffectClass.READ_PRIVATE}
    crashed = go(stdio(log), ScriptedModels([Call("chat_crash"), Say("x")]), mcp_effects=effects)
    assert crashed.status == "failed"
    assert (
        crashed.error is not None and "chat_crash" in crashed.error and "MCP server 'chat'" in crashed.error
    )
    again = go(stdio(log), ScriptedModels([Call("chat_post_message", POST), Say("ok")]), mcp_effects=effects)
    assert again.status == "succeeded", again.error
    assert log.read_text() == "ops:hi\n"


def test_a_server_that_cannot_start_fails_the_run() -> None:
    server = {"name": "ghost", "command": ["/nonexistent/mcp-server"]}
    result = go(server, ScriptedModels([Say("x")]))
    assert result.status == "failed"
    assert result.error is not None and "MCP server 'ghost' could not be started" in result.error


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    log = tmp_path / "posted.log"
    process = subprocess.Popen([sys.executable, SERVER, "http", str(port)], env={"MCP_TEST_LOG": str(log), "PATH": ""},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 30
    # One client for the wait: each httpx.get builds a TLS context (~55 ms of CPU).
    with httpx.Client(timeout=1) as http:
        while True:
            try:
                http.get(url)  # any answer: the server is up
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    process.kill()
                    raise RuntimeError("the MCP test server did not start") from None
                time.sleep(0.1)
    yield url, log
    process.kill()
    process.wait(timeout=10)


def test_streamable_http_server(http_server: tuple[str, Path]) -> None:
    url, log = http_server
    server = {"name": "chat", "url": url, "timeout_seconds": 2}
    models = ScriptedModels([Call("chat_post_message", POST, tool_call_id="c1"), Say("Posted.")])
    first = go(server, models)
    assert first.status == "waiting_approval", first.error
    assert first.history is not None
    yes = ApprovalDecision(tool_call_id="c1", approved=True, args_digest=first.pending[0].args_digest)
    second = go(server, models, resume=ResumeState(history=first.history, decisions=(yes,)))
    assert second.status == "succeeded", second.error
    assert log.read_text() == "ops:hi\n"
    hung = go(
        server,
        ScriptedModels([Call("chat_hang"), Say("x")]),
        mcp_effects={"chat_hang": EffectClass.READ_PRIVATE},
    )
    assert hung.status == "failed" and hung.error is not None and "did not answer within 2 s" in hung.error
    after = go(server, ScriptedModels([Call("chat_post_message", POST), Say("ok")]),
               mcp_effects={"chat_post_message": EffectClass.READ_PRIVATE})  # fmt: skip
    assert after.status == "succeeded", after.error
