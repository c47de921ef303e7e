"""Faults: a wrong password, a server that hangs, one that is not there, and an event the server hands out
that cannot be parsed; and account configs that must be refused."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr, ValidationError

from meshclaw.connectors.calendar.conditions import owner_in_meeting
from meshclaw.connectors.calendar.config import CalendarConfig
from meshclaw.tools.registry import ToolError
from tests.connectors.calendar.conftest import ACCOUNT, account, call, run, tools, vevent
from tests.servers.calendar import CalendarServer

DAY = {"start": "2026-11-23T00:00:00Z", "end": "2026-11-24T00:00:00Z"}


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers: a hung CalDAV server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_wrong_password_is_a_clear_error_without_the_password(radicale: CalendarServer, work: str) -> None:
    wrong = account(radicale, password=SecretStr("not-the-Secret-9"))
    with pytest.raises(ToolError) as caught:
        call(tools(wrong)["calendar_list_calendars"], account=ACCOUNT)
    message = str(caught.value)
    assert "refused the login 'alice'" in message and "check the username and the password" in message
    assert "not-the-Secret-9" not in message


def test_owner_in_meeting_raises_rather_than_answering_free_when_it_cannot_know(
    radicale: CalendarServer,
) -> None:
    wrong = account(radicale, password=SecretStr("wrong"))
    with pytest.raises(ToolError, match="refused the login"):
        run(owner_in_meeting(wrong, datetime(2026, 11, 23, 9, 30, tzinfo=UTC)))


def test_a_hanging_server_times_out(radicale: CalendarServer, silent_server: str) -> None:
    hung = account(radicale, url=silent_server, timeout_seconds=1.0)
    began = time.monotonic()
    with pytest.raises(ToolError, match=r"did not answer within 1 s"):
        call(tools(hung)["calendar_list_events"], account=ACCOUNT, calendar="Work", **DAY)
    assert time.monotonic() - began < 5  # 1 s to give up, 1 s for the stuck request to end; margin for load


def test_a_server_that_is_not_there_is_named(radicale: CalendarServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    gone = account(radicale, url=f"http://127.0.0.1:{port}/", timeout_seconds=5.0)
    with pytest.raises(
        ToolError,
        match=r"could not open the connection to the CalDAV server of account 'work-calendar' \(127\.0\.0\.1:\d+\), 2 times",
    ):
        call(tools(gone)["calendar_get_freebusy"], account=ACCOUNT, **DAY)


class CuttingProxy:
    """A TCP proxy to the real server that cuts the first `cut` connections after reading the start of
    their request: a connection dropped mid-command."""

    def __init__(self, target: str, cut: int) -> None:
        host, port = target.removeprefix("http://").rstrip("/").split(":")
        self.target = (host, int(port))
        self.cut = cut
        self.connections = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            if self.connections <= self.cut:
                client.recv(64)
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.listener.close()


def test_a_read_cut_off_once_is_tried_again(radicale: CalendarServer, work: str) -> None:
    radicale.put("alice", work, "a.ics", vevent("a", "DTSTART:20261123T080000Z\nDTEND:20261123T090000Z"))
    proxy = CuttingProxy(radicale.url, cut=1)
    try:
        flaky = account(radicale, url=proxy.url, calendars=(work,))
        listed = call(tools(flaky)["calendar_list_events"], account=ACCOUNT, calendar=work, **DAY)
    finally:
        proxy.close()
    assert [e["uid"] for e in listed["events"]] == ["a"]
    assert proxy.connections >= 2


def test_a_create_cut_off_every_time_fails_clearly_and_creates_nothing(
    radicale: CalendarServer, work: str
) -> None:
    proxy = CuttingProxy(radicale.url, cut=1000)
    try:
        flaky = account(radicale, url=proxy.url, calendars=(work,))
        with pytest.raises(ToolError, match=r"lost or could not open the connection .* 2 times"):
            call(
                tools(flaky)["calendar_create_event"], account=ACCOUNT, calendar=work, summary="x",
                start="2026-11-23T08:00:00Z", end="2026-11-23T09:00:00Z",
            )  # fmt: skip
    finally:
        proxy.close()
    assert proxy.connections == 2  # one attempt, one retry (the HTTP library does not retry on its own)
    listed = call(tools(account(radicale))["calendar_list_events"], account=ACCOUNT, calendar=work, **DAY)
    assert listed["events"] == []


BROKEN_START = "DTSTART:2026112XT0930ZZ\nDTEND:20261123T100000Z"


def test_an_unreadable_event_is_skipped_with_a_note(radicale: CalendarServer, work: str) -> None:
    radicale.put(
        "alice", work, "fine.ics", vevent("fine", "DTSTART:20261123T080000Z\nDTEND:20261123T090000Z", "Fine")
    )
    radicale.plant_unreadable(
        "alice", work, "broken.ics",
        good=vevent("broken", "DTSTART:20261123T093000Z\nDTEND:20261123T100000Z", "Broken"),
        broken=vevent("broken", BROKEN_START, "Broken"),
    )  # fmt: skip
    spec = tools(account(radicale, calendars=(work,)))

    listed = call(spec["calendar_list_events"], account=ACCOUNT, calendar=work, **DAY)
    assert [e["uid"] for e in listed["events"]] == ["fine"]
    (note,) = listed["notes"]
    assert note.startswith(f"skipped /alice/{work}/broken.ics: the server sent an event that cannot be read")
    assert "DTSTART" in note

    busy = call(spec["calendar_get_freebusy"], account=ACCOUNT, **DAY)
    assert busy["busy"] == [{"start": "2026-11-23T08:00:00+00:00", "end": "2026-11-23T09:00:00+00:00"}]
    assert busy["unreadable_events"] == 1
    assert run(
        owner_in_meeting(account(radicale, calendars=(work,)), datetime(2026, 11, 23, 8, 30, tzinfo=UTC))
    )


@pytest.mark.parametrize(
    ("fields", "complaint"),
    [
        ({"url": "http://dav.example.com/"}, "must use https://"),
        ({"url": "https://alice:pw@dav.example.com/"}, "must not hold credentials"),
        ({"url": "dav.example.com"}, "must be https://HOST"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"colour": "blue"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_account_configs_are_refused(fields: dict[str, str], complaint: str) -> None:
    values: dict[str, object] = {"url": "https://dav.example.com/", "username": "a", "password": "p"}
    values.update(fields)
    with pytest.raises(ValidationError, match=complaint):
        CalendarConfig.model_validate(values)
