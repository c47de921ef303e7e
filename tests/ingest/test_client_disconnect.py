"""A client that goes away before its request body arrived (an OTLP exporter that timed out under load, a
stopped CLI) is not a server error: nothing is read or recorded, the server notes it and goes on."""

from __future__ import annotations

import logging
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import People
from tests.ingest.conftest import OtlpServer


def test_a_client_that_leaves_mid_body_is_noted_not_logged_as_a_server_error(
    otlp_server: OtlpServer, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    member = people.add()
    address = urlsplit(otlp_server.url)
    head = (
        "POST /v1/metrics HTTP/1.1\r\nHost: meshclaw\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {member.key}\r\nContent-Length: 5000\r\n\r\n"
    )
    with caplog.at_level(logging.INFO, logger="meshclaw.server"):
        with socket.create_connection((address.hostname, address.port)) as client:
            client.sendall(head.encode() + b'{"resourceMetrics": [')  # then it is gone
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not [
            r for r in caplog.records if "client left" in r.getMessage()
        ]:
            time.sleep(0.05)
    server_logs = [r for r in caplog.records if r.name.startswith("meshclaw")]
    assert [r.getMessage() for r in server_logs if r.levelno >= logging.INFO] == [
        "the client left before its request body arrived: POST /v1/metrics"
    ]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []  # uvicorn's too
    assert httpx.get(f"{otlp_server.url}/healthz").status_code == 200
    otlp_server.flush()
    assert otlp_server.usage() == []
