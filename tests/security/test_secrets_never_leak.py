"""Secrets never leak (issue 5's proof): run a representative full flow in this process, capture every log
line, every prompt a model receives, every HTTP answer, the CLI's output, the audit log, the run records
and the bytes of every file in the data directory, and assert that no secret value appears in any of them.

The flow, against the real server (uvicorn in a thread, the real runs engine, the stub upstream as the
provider): a vault secret set through the API and one through the CLI, and read back by the vault as a
connector would; a provider whose key is in an environment variable; a gateway call with a virtual key,
and one presenting a secret as if it were a key; a web sign-in with a password; an agent run whose model
calls go through the gateway; and an agent run with a scripted model that tries to echo everything it is
shown into tool arguments and its answer, with a tool call that fails validation and an MCP server (given
a secret in its environment) that cannot start.

Secrets checked: the two vault values, the provider key, the gateway key, the API key of the admin, the
web password, the MCP server's environment value, the vault KEK and the audit HMAC key. The detector is
tested on its own too, so a broken check fails rather than passing everything.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo
from pydantic_ai.usage import RequestUsage
from sqlalchemy import text

from meshclaw.agents.runtime.contract import RunResult
from meshclaw.agents.runtime.default_gate import DefaultGate
from meshclaw.agents.runtime.loop import execute
from meshclaw.agents.runtime.testing import RecordingSink, function_models
from meshclaw.context import AppContext
from meshclaw.identity.principal import Role
from meshclaw.tools.registry import default_registry
from meshclaw.vault.store import Vault
from tests.agents.runtime.conftest import agent, request, run
from tests.cli_runner import run_cli
from tests.gateway.conftest import PROVIDER_KEY, Gateway, gateway, gateway_settings
from tests.runs.records import save_agent, wait_final
from tests.web.conftest import PASSWORD, WebPeople

__all__ = ["gateway", "gateway_settings"]  # fixtures used here

KEY_FILES = ("vault.key", "audit.key")


class Capture(logging.Handler):
    """Every record any logger emits, as a handler would write it (after the handler filters the vault
    attaches to the root logger's handlers), with its exception and stack."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        self.lines.append(f"{self.format(record)} {extras!r}")


_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


@pytest.fixture
def captured_logs() -> Iterator[Capture]:
    root = logging.getLogger()
    handler, level = Capture(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def find_leaks(secret_values: Mapping[str, str], corpora: Mapping[str, str | bytes]) -> list[str]:
    """`secret name in corpus name` for every secret found in a corpus (bytes searched as UTF-8)."""
    found = []
    for where, corpus in corpora.items():
        for name, value in secret_values.items():
            needle: str | bytes = value.encode() if isinstance(corpus, bytes) else value
            if needle in corpus:  # type: ignore[operator]  # str in str, bytes in bytes
                found.append(f"{name} in {where}")
    return found


def test_the_detector_finds_a_planted_secret() -> None:
    values = {"vault": "v-0123456789abcdef"}
    assert find_leaks(values, {"logs": "fine", "db": b"x v-0123456789abcdef y"}) == ["vault in db"]
    assert find_leaks(values, {"logs": "v-0123456789abcde"}) == []


class Echo:
    """A scripted model that obeys any instruction: it repeats everything it was shown into a tool call's
    arguments, sends arguments that fail validation, then answers with it all again."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def __call__(self, messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        shown = "\n".join(repr(message) for message in messages)
        self.prompts.append(shown + f"\ntools: {[tool.name for tool in info.function_tools]!r}")
        usage = RequestUsage(input_tokens=10, output_tokens=5)
        turn = len(self.prompts)
        if turn == 1:
            return ModelResponse(parts=[ToolCallPart("time_get_now", {"echo": shown[-4000:]})], usage=usage)
        if turn == 2:
            return ModelResponse(
                parts=[ToolCallPart("time_get_now", {"timezone": {"bad": shown[-500:]}})], usage=usage
            )
        return ModelResponse(parts=[TextPart(f"Everything I saw: {shown}")], usage=usage)


def _sign_in(base: str, email: str, password: str) -> list[httpx.Response]:
    with httpx.Client(base_url=base, timeout=10) as client:
        form = client.get("/login")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        answer = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
        return [form, answer, client.get("/account"), client.get("/notifications")]


def _rows(context: AppContext, tables: tuple[str, ...]) -> str:
    with context.db.session() as session:
        return "\n".join(
            repr(tuple(row))
            for table in tables
            for row in session.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
        )


@pytest.mark.runs_engine  # the flow ends with an agent run
def test_no_secret_reaches_a_prompt_a_log_line_an_answer_or_a_record(
    gateway: Gateway, captured_logs: Capture, capfd: pytest.CaptureFixture[str]
) -> None:
    context, people, person = gateway.context, gateway.people, gateway.person
    data_dir = Path(context.settings.data_dir)
    admin = people.add(Role.ADMIN)
    web_person = WebPeople(context, people).add()
    vault_api = f"xoxb-api-{secrets.token_hex(12)}"
    vault_cli = f"ghp-cli-{secrets.token_hex(12)}"
    mcp_env = f"mcp-env-{secrets.token_hex(12)}"
    answers: list[httpx.Response] = []
    api = {"authorization": f"Bearer {admin.key}"}

    # The vault: a value in through the API, one through the CLI, both read back as a connector would.
    with httpx.Client(base_url=gateway.url, headers=api, timeout=10) as client:
        answers.append(
            client.post("/api/v1/vault/secrets", json={"name": "slack", "value": vault_api, "org": True})
        )
        answers.append(client.post("/api/v1/vault/secrets", json={"name": "bad name!", "value": vault_api}))
        answers.append(client.get("/api/v1/vault/secrets"))
    assert answers[0].status_code == 201 and answers[1].status_code == 422
    cli = run_cli(
        data_dir, "vault", "set", "github", stdin=vault_cli, database_url=context.settings.database_url
    )
    listed = run_cli(data_dir, "vault", "list", database_url=context.settings.database_url)
    assert cli.returncode == 0 and "github" in listed.stdout
    vault = Vault.for_data_dir(data_dir)
    with context.db.session() as session:
        read_back = [vault.get(session, org_id=people.org_id, owner_user_id=None, name=name).reveal()
                     for name in ("slack", "github")]  # fmt: skip
    assert read_back == [vault_api, vault_cli]
    logging.getLogger("meshclaw.test").info("connector connected with %s", read_back[0])  # the filter's net

    # The gateway: a metered call with a virtual key, and a secret presented as if it were a key.
    chat = {"model": "stub-small", "messages": [{"role": "user", "content": "Summarize my inbox"}]}
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        answers.append(
            client.post("/v1/chat/completions", json=chat, headers={"authorization": f"Bearer {person.key}"})
        )
        answers.append(
            client.post("/v1/chat/completions", json=chat, headers={"authorization": f"Bearer {vault_api}"})
        )
    assert answers[-2].status_code == 200 and answers[-1].status_code == 401
    answers += _sign_in(gateway.url, web_person.email, PASSWORD)

    # An agent run whose model calls go through the gateway, started and read through the API.
    save_agent(context, people.org_id, admin, "digest", model={"name": "stub-small"})
    with httpx.Client(base_url=gateway.url, headers=api, timeout=10) as client:
        started = client.post("/api/v1/runs", json={"agent": "digest", "input": "Summarize the inbox"})
        assert started.status_code == 202, started.text
        assert wait_final(context, started.json()["id"], timeout=60) == "succeeded"
        answers += [started, client.get(f"/api/v1/runs/{started.json()['id']}"), client.get("/api/v1/audit")]

    # A compromised model that echoes what it sees; a tool call that fails validation; an MCP server
    # holding a secret in its environment that cannot start.
    echo = Echo()
    models = function_models(echo)
    echoed = run(execute(request(agent(model={"name": "scripted"}, tools=[{"tool": "time_get_now"}]),
                                 input="Summarize the inbox"),
                         sink=RecordingSink(), gate=DefaultGate(), tools=default_registry(), model_factory=models))  # fmt: skip
    failing = agent(mcp_servers=[{"name": "chat", "command": [sys.executable, "-c", "raise SystemExit(3)"],
                                  "env": {"CHAT_TOKEN": mcp_env}}])  # fmt: skip
    broken = run(execute(request(failing), sink=RecordingSink(), gate=DefaultGate(), tools=default_registry(),
                         model_factory=function_models(echo)))  # fmt: skip
    assert len(echo.prompts) >= 3 and "Summarize the inbox" in echo.prompts[0]
    assert broken.status == "failed" and broken.error is not None and "MCP server 'chat'" in broken.error

    gateway.app.state.recorder.flush()
    out, err = capfd.readouterr()
    results: list[RunResult] = [echoed, broken]
    corpora: dict[str, str | bytes] = {
        "log lines": "\n".join(captured_logs.lines),
        "stdout and stderr": out + err,
        "prompts": "\n".join(echo.prompts),
        "run results": repr(results),
        "HTTP answers": "\n".join(f"{a.status_code} {a.headers} {a.text}" for a in answers),
        "CLI output": "\n".join(d.stdout + d.stderr for d in (cli, listed)),
        "audit, run and usage records": _rows(
            context, ("audit_events", "runs", "run_steps", "usage_events", "notifications", "vault_secrets")
        ),
    }
    corpora |= {f"file {p.name}": p.read_bytes() for p in sorted(data_dir.rglob("*"))
                if p.is_file() and p.name not in KEY_FILES}  # fmt: skip
    secret_values = {
        "vault value (API)": vault_api, "vault value (CLI)": vault_cli, "provider key": PROVIDER_KEY,
        "gateway key": person.key, "admin API key": admin.key, "web password": PASSWORD,
        "MCP server environment": mcp_env, **{f"{name} key file": _key(data_dir / name) for name in KEY_FILES},
    }  # fmt: skip

    # The capture saw the flow (a vacuous corpus would pass anything).
    assert "Summarize the inbox" in corpora["prompts"] and "time_get_now" in corpora["prompts"]
    assert "meshclaw.test" in corpora["log lines"] and "[vault secret]" in corpora["log lines"]
    assert "admin.vault_secret_created" in str(corpora["audit, run and usage records"])
    assert find_leaks(secret_values, corpora) == []


def _key(path: Path) -> str:
    text = path.read_text().strip()
    assert len(text) >= 16, f"{path.name} holds no key"
    return text
