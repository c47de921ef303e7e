"""IMAP: the only code here that speaks it, through imapclient (a blocking library).

Every operation opens its own connection in a worker thread, logs in, does one job and logs out, so a
tool call never shares a connection (or a selected folder) with another. Two limits keep a hanging server
from hanging a run: the socket timeout (`timeout_seconds`, per read or write) and an overall deadline on
the thread. Failures become `ToolError`s that say what happened and what to do; an operation that only
reads is retried once when the connection drops mid-command (a repeat cannot change anything), anything
that writes is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import re
import ssl
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from imapclient import IMAPClient  # type: ignore[import-untyped]
from imapclient.exceptions import LoginError  # type: ignore[import-untyped]

from meshclaw.connectors.email.config import EmailConfig
from meshclaw.tools.registry import ToolError

T = TypeVar("T")

OVERALL_FACTOR = 4
"""An operation may take several round trips; the thread's deadline is this many socket timeouts."""
_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


class Disconnected(Exception):
    """The server closed the connection (or it broke) in the middle of a command."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Fetched:
    uid: int
    raw: bytes
    size: int
    """The whole message's size on the server (`raw` is shorter when it was cut at `max_fetch_bytes`)."""
    flags: tuple[str, ...]


def tls_context(config: EmailConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config.ca_file)


def tls_failure(protocol: str, where: str, error: ssl.SSLError, *, setting: str) -> str:
    detail = getattr(error, "verify_message", None) or error.reason or str(error)
    return (
        f"TLS with the {protocol} server {where} failed ({detail}); check {setting}, and ca_file when the "
        "server's certificate is self-signed or from a private CA"
    )


@contextmanager
def connected(config: EmailConfig) -> Iterator[Any]:
    """A logged-in IMAPClient; raises ToolError for connection, TLS and login failures."""
    where = f"{config.imap_host}:{config.imap_port}"
    try:
        client = IMAPClient(
            config.imap_host,
            port=config.imap_port,
            ssl=config.imap_security == "tls",
            ssl_context=tls_context(config),
            timeout=config.timeout_seconds,
        )
    except TimeoutError as error:
        raise ToolError(
            f"the IMAP server {where} did not answer within {config.timeout_seconds:g} s; "
            "it may be down or overloaded, try again later"
        ) from error
    except ssl.SSLError as error:
        raise ToolError(tls_failure("IMAP", where, error, setting="imap_security")) from error
    except OSError as error:
        raise ToolError(f"cannot connect to the IMAP server {where} ({error}); check imap_host and imap_port") from error  # fmt: skip
    except imaplib.IMAP4.error as error:
        raise ToolError(f"the IMAP server {where} broke off the greeting ({error}); try again later") from error  # fmt: skip
    try:
        if config.imap_security == "starttls":
            try:
                client.starttls(tls_context(config))
            except ssl.SSLError as error:
                raise ToolError(tls_failure("IMAP", where, error, setting="imap_security")) from error
        client.login(config.username, config.password.get_secret_value())
    except LoginError as error:
        _close(client)
        raise ToolError(
            f"IMAP login as '{config.username}' at {where} failed: check the account's username and password "
            "(providers with two-factor sign-in want an app password)"
        ) from error
    except BaseException:
        _close(client)
        raise
    try:
        yield client
    finally:
        try:
            client.logout()
        except Exception:
            _close(client)


def _close(client: Any) -> None:
    # The connection is being thrown away; a failure to close it changes nothing.
    with contextlib.suppress(Exception):
        client.shutdown()


async def run(config: EmailConfig, job: Callable[[Any], T], *, what: str, retry: bool) -> T:
    """Run `job` on a fresh logged-in connection in a worker thread; `retry` (reads only) repeats it once
    when the connection drops."""
    attempts = 2 if retry else 1
    for attempt in range(attempts):
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(_in_thread, config, job, what),
                timeout=config.timeout_seconds * OVERALL_FACTOR,
            )
        except Disconnected as error:
            if attempt + 1 < attempts:
                continue
            hint = "nothing was changed, try again" if retry else "check the folder before repeating it"
            raise ToolError(
                f"the IMAP server {config.imap_host}:{config.imap_port} dropped the connection while {what} "
                f"({error}); {hint}"
            ) from error
        except TimeoutError as error:
            raise ToolError(
                f"{what} took longer than {config.timeout_seconds * OVERALL_FACTOR:g} s at "
                f"{config.imap_host}:{config.imap_port}; try again later"
            ) from error
    raise AssertionError("unreachable")


def _in_thread(config: EmailConfig, job: Callable[[Any], T], what: str) -> T:
    try:
        with connected(config) as client:
            return job(client)
    except ToolError:
        raise
    except TimeoutError as error:
        raise ToolError(
            f"the IMAP server {config.imap_host}:{config.imap_port} stopped answering while {what} "
            f"(no reply within {config.timeout_seconds:g} s); try again later"
        ) from error
    except imaplib.IMAP4.abort as error:
        if "timed out" in str(error):
            raise ToolError(
                f"the IMAP server {config.imap_host}:{config.imap_port} stopped answering while {what}; try again later"
            ) from error
        raise Disconnected(str(error)) from error
    except (ConnectionError, EOFError, ssl.SSLError) as error:
        raise Disconnected(str(error) or type(error).__name__) from error
    except imaplib.IMAP4.error as error:
        raise ToolError(f"the IMAP server refused {what}: {_text(error)}") from error


def _text(error: BaseException) -> str:
    message = str(error)
    if message.startswith(("b'", 'b"')):
        message = message[2:-1]
    return message


# --- operations (run in the worker thread with a logged-in client) ---------------------------------


def one_line(*values: object) -> None:
    """Refuse text with a line break before it goes into a command: imapclient sends search text and
    folder names as they are, and a CR LF would end the command and start one the caller never meant
    (mjs/imapclient#657, open; CPython's imaplib checks since CVE-2025-15366, but imapclient bypasses it)."""
    for value in values:
        if isinstance(value, str) and any(char in value for char in "\r\n\0"):
            raise ToolError(f"{value!r} contains a line break, which IMAP commands cannot carry")


def select(client: Any, folder: str, *, readonly: bool) -> None:
    one_line(folder)
    if not client.folder_exists(folder):
        raise ToolError(f"there is no folder '{folder}'; email_list_folders lists the folders")
    client.select_folder(folder, readonly=readonly)


def list_folders(client: Any) -> list[dict[str, Any]]:
    folders = []
    for flags, _delimiter, name in client.list_folders():
        flag_names = [flag.decode() if isinstance(flag, bytes) else str(flag) for flag in flags]
        if "\\Noselect" in flag_names or "\\NonExistent" in flag_names:
            continue
        status = client.folder_status(name, [b"MESSAGES", b"UNSEEN"])
        folders.append(
            {
                "folder": name,
                "special_use": next((f for f in flag_names if f in _SPECIAL_USE), None),
                "messages": status.get(b"MESSAGES", 0),
                "unseen": status.get(b"UNSEEN", 0),
            }
        )
    return folders


_SPECIAL_USE = {"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"}


def search(client: Any, folder: str, criteria: list[Any], *, limit: int) -> tuple[int, list[int]]:
    """The matching UIDs, newest first, at most `limit`; and how many matched in all."""
    one_line(*criteria)
    select(client, folder, readonly=True)
    needs_utf8 = any(isinstance(item, str) and not item.isascii() for item in criteria)
    uids = sorted(client.search(criteria or ["ALL"], charset="UTF-8" if needs_utf8 else None), reverse=True)
    return len(uids), uids[:limit]


HEADER_FIELDS = b"BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID)]"


def fetch_headers(client: Any, uids: Sequence[int]) -> dict[int, tuple[bytes, tuple[str, ...], int]]:
    """UID -> (the summary headers, flags, size) for messages in the selected folder."""
    if not uids:
        return {}
    found = client.fetch(list(uids), [HEADER_FIELDS, b"FLAGS", b"RFC822.SIZE"])
    result = {}
    for uid, data in found.items():
        header = next((value for key, value in data.items() if key.startswith(b"BODY[HEADER")), b"")
        result[uid] = (header or b"", _flags(data.get(b"FLAGS", ())), int(data.get(b"RFC822.SIZE", 0)))
    return result


def fetch_message(client: Any, folder: str, uid: int, *, max_bytes: int) -> Fetched:
    """One message, read without marking it seen; only its first `max_bytes` when it is larger."""
    select(client, folder, readonly=True)
    meta = client.fetch([uid], [b"RFC822.SIZE", b"FLAGS"]).get(uid)
    if meta is None:
        raise ToolError(f"there is no message with UID {uid} in '{folder}'; email_search_messages finds UIDs")
    size = int(meta[b"RFC822.SIZE"])
    part = b"BODY.PEEK[]" if size <= max_bytes else f"BODY.PEEK[]<0.{max_bytes}>".encode()
    data = client.fetch([uid], [part]).get(uid, {})
    raw = next((value for key, value in data.items() if key.startswith(b"BODY[")), None)
    if raw is None:
        raise ToolError(f"the server returned no content for UID {uid} in '{folder}'")
    return Fetched(uid=uid, raw=raw, size=size, flags=_flags(meta.get(b"FLAGS", ())))


def _flags(flags: Sequence[bytes | str]) -> tuple[str, ...]:
    return tuple(flag.decode() if isinstance(flag, bytes) else str(flag) for flag in flags)


def existing_uids(client: Any, folder: str, uids: Sequence[int]) -> list[int]:
    found = client.fetch(list(uids), [b"FLAGS"])
    missing = sorted(set(uids) - set(found))
    if missing:
        raise ToolError(
            f"no message with UID {', '.join(map(str, missing))} in '{folder}'; nothing was changed"
        )
    return sorted(found)


def change_flags(
    client: Any, folder: str, uids: Sequence[int], *, add: Sequence[str], remove: Sequence[str]
) -> dict[int, tuple[str, ...]]:
    select(client, folder, readonly=False)
    present = existing_uids(client, folder, uids)
    if add:
        client.add_flags(present, [flag.encode() for flag in add])
    if remove:
        client.remove_flags(present, [flag.encode() for flag in remove])
    return {uid: _flags(flags) for uid, flags in client.get_flags(present).items()}


def move(client: Any, source: str, target: str, uids: Sequence[int]) -> int:
    one_line(target)
    if not client.folder_exists(target):
        raise ToolError(f"there is no folder '{target}' to move to; email_list_folders lists the folders")
    select(client, source, readonly=False)
    present = existing_uids(client, source, uids)
    if client.has_capability("MOVE"):
        client.move(present, target)
    else:
        # Without MOVE: copy, then remove only these messages (UID EXPUNGE needs UIDPLUS).
        client.copy(present, target)
        client.delete_messages(present)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(present)
        else:
            client.expunge()
    return len(present)


def delete(client: Any, folder: str, uids: Sequence[int]) -> int:
    """Remove messages for good (\\Deleted, then UID EXPUNGE of exactly these)."""
    if not client.has_capability("UIDPLUS"):
        # A plain EXPUNGE would also remove whatever else someone marked \Deleted in the folder.
        raise ToolError("the server cannot expunge single messages (no UIDPLUS); move them to Trash instead")
    select(client, folder, readonly=False)
    present = existing_uids(client, folder, uids)
    client.add_flags(present, [b"\\Deleted"])
    client.uid_expunge(present)
    return len(present)


def append(client: Any, folder: str, message: bytes, *, flags: Sequence[str]) -> int | None:
    """Store a message in a folder; its new UID when the server says (UIDPLUS)."""
    one_line(folder)
    if not client.folder_exists(folder):
        raise ToolError(f"there is no folder '{folder}'; set the account's folder names or create it")
    response = client.append(folder, message, flags=[flag.encode() for flag in flags])
    found = _APPENDUID.search(response if isinstance(response, bytes) else str(response).encode())
    return int(found.group(1)) if found else None


def find_message_id(client: Any, folder: str, message_id: str) -> list[int]:
    """UIDs of the messages in `folder` whose Message-ID header is `message_id`."""
    one_line(folder, message_id)
    if not client.folder_exists(folder):
        return []
    client.select_folder(folder, readonly=True)
    return sorted(client.search(["HEADER", "Message-ID", message_id]))


def message_count(client: Any, folder: str) -> tuple[int, int]:
    status = client.folder_status(folder, [b"MESSAGES", b"UNSEEN"])
    return int(status.get(b"MESSAGES", 0)), int(status.get(b"UNSEEN", 0))
