"""A Slack workspace for the test suite: Vercel Labs' `emulate` 0.9.0 (a stateful emulator of Slack's Web
API, npm), started once per session on a free loopback port from tests/servers/slack_emulator.

The real `slack_sdk` talks to it over HTTP as it talks to slack.com. The workspace comes from
`slack_emulator/seed.yaml`: team `MeshClaw Test`, people `ana` (the owner) and `bob` (an outsider), the
channels `general`, `deploys` and the private `secret-plans`, and the MeshClaw app whose bot is
`U0MESHBOT1`. Scopes are enforced (`strict_scopes`), so the bot token holds only the scopes the docs ask
for. Ana invites the bot to `general` and `deploys` here (`/invite @meshclaw`).

What emulate 0.9.0 does not do, and the suite covers otherwise (tests/servers/slack_socket.py): Socket Mode
(`apps.connections.open`), 429 answers with Retry-After, and refusing an unknown token (it answers as the
default user instead of `invalid_auth`). Its `conversations.history` ignores `oldest`/`latest`.

scripts/test-deps/slack.sh installs the emulator (`npm ci`); without it the fixture fails saying so.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

EMULATOR_DIR = Path(__file__).parent / "slack_emulator"
START_TIMEOUT_S = 20

BOT_TOKEN = "xoxb-meshclaw-bot"
"""The MeshClaw app's bot token, with the minimal scopes (seed.yaml)."""
POST_ONLY_TOKEN = "xoxb-meshclaw-post-only"
"""The same bot with only chat:write: reading fails with missing_scope."""
BOT_USER = "U0MESHBOT1"
PERSON_TOKENS = {"ana": "xoxp-ana", "bob": "xoxp-bob"}


@dataclass(frozen=True)
class SlackEmulator:
    port: int
    log: Path

    @property
    def api_url(self) -> str:
        """The Web API base URL, as `slack_sdk` and the account's `base_url` take it."""
        return f"http://127.0.0.1:{self.port}/api/"

    def person(self, name: str) -> WebClient:
        """A Web API client acting as a person of the workspace (`ana`, `bob`)."""
        return WebClient(token=PERSON_TOKENS[name], base_url=self.api_url, timeout=10)

    def bot(self) -> WebClient:
        return WebClient(token=BOT_TOKEN, base_url=self.api_url, timeout=10)

    def user_id(self, name: str) -> str:
        return str(self.person(name).auth_test()["user_id"])

    def channel_id(self, name: str) -> str:
        for channel in self.bot().conversations_list(types="public_channel,private_channel")["channels"]:
            if channel["name"] == name:
                return str(channel["id"])
        raise KeyError(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (EMULATOR_DIR / "node_modules" / "emulate").is_dir():
        pytest.fail(
            "the Slack emulator is not installed: run scripts/install-test-deps.sh "
            "(needs Node.js 20 and npm; it runs `npm ci` in tests/servers/slack_emulator)"
        )
    return node


def _answers(port: int) -> bool:
    client = WebClient(token=BOT_TOKEN, base_url=f"http://127.0.0.1:{port}/api/", timeout=1)
    try:
        return bool(client.auth_test()["ok"])
    except (SlackApiError, OSError):  # URLError is an OSError
        return False


@contextmanager
def running_slack_emulator() -> Iterator[SlackEmulator]:
    node = _node()
    root = Path(tempfile.mkdtemp(prefix="meshclaw-slack-"))
    port = _free_port()
    log = root / "emulator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [node, str(EMULATOR_DIR / "start.mjs"), str(port), str(EMULATOR_DIR / "seed.yaml")],
            cwd=EMULATOR_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(port):
            if process.poll() is not None:
                pytest.fail(f"the Slack emulator exited at start:\n{log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                pytest.fail(f"the Slack emulator did not answer within {START_TIMEOUT_S} s")
            time.sleep(0.05)
        emulator = SlackEmulator(port=port, log=log)
        ana = emulator.person("ana")
        for name in ("general", "deploys"):
            channel = emulator.channel_id(name)
            ana.conversations_join(channel=channel)  # emulate's own `general` starts with its admin only
            ana.conversations_invite(channel=channel, users=BOT_USER)
        yield emulator
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def slack_emulator() -> Iterator[SlackEmulator]:
    """The Slack emulator for the whole session."""
    with running_slack_emulator() as server:
        yield server
