"""Every real server the suite uses starts in under 30 s when started together (issue 6: the connector
tests must not pay minutes of start-up). Each is started privately here, in parallel, as a fresh checkout
would start them, and stopped again; the session fixtures the other tests share are not involved."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from typing import Any

from tests.servers.calendar import running_radicale
from tests.servers.deploy import running_bluegreen
from tests.servers.mail import private_mail_server
from tests.servers.matrix import running_synapse
from tests.servers.slack import running_slack_emulator

LIMIT_S = 30.0
SERVERS: dict[str, Callable[[], AbstractContextManager[Any]]] = {
    "mail (Dovecot + Postfix)": private_mail_server,
    "calendar (Radicale)": running_radicale,
    "deployments (supervisord + nginx + Prometheus)": running_bluegreen,
    "slack (emulate)": running_slack_emulator,
    "matrix (Synapse)": running_synapse,
}


def test_all_servers_start_together_in_under_30_seconds() -> None:
    took: dict[str, float] = {}
    with ExitStack() as stack, ThreadPoolExecutor(max_workers=len(SERVERS)) as pool:
        began = time.monotonic()

        def start(name: str) -> tuple[str, AbstractContextManager[Any], Any]:
            manager = SERVERS[name]()
            server = manager.__enter__()
            took[name] = time.monotonic() - began
            return name, manager, server

        futures = [pool.submit(start, name) for name in SERVERS]
        started, failures = [], []
        for future in futures:
            try:
                name, manager, server = future.result()
            except Exception as exc:  # one that failed must not leave the others running
                failures.append(exc)
                continue
            stack.push(manager.__exit__)  # stopped in reverse order, whatever happens below
            started.append((name, server))
        elapsed = time.monotonic() - began
        if failures:
            raise failures[0]
    print("start-up:", ", ".join(f"{name} {seconds:.1f} s" for name, seconds in sorted(took.items())))
    assert len(started) == len(SERVERS)
    assert elapsed < LIMIT_S, f"all servers took {elapsed:.1f} s to start: {took}"
