"""A real mail system for the test suite: Dovecot (IMAP, IMAPS, LMTP, SASL) and Postfix (SMTP), started once
per session from a temporary directory on free loopback ports.

Both are Debian's packages (scripts/test-deps/email.sh installs them) run from configs written here, so they
never touch /etc/dovecot, /etc/postfix or /var/spool: Postfix runs as its own instance (`postfix -c DIR`)
with its queue in the temporary directory. Mail flows the way it does in production: a client submits over
SMTP with AUTH (checked by Dovecot's SASL listener), Postfix delivers over LMTP to Dovecot, and clients read
it over IMAP. Outbound mail to any domain but `example.test` bounces inside Postfix (no network).

`refused@example.test` is refused at RCPT time. Ports: IMAP (plain, STARTTLS offered), IMAPS; SMTP plain (AUTH allowed without TLS, for tests), submission
(STARTTLS required), SMTPS (implicit TLS). The certificate is self-signed for `localhost` and 127.0.0.1;
clients trust it through `MailServer.ca_file`.

Dovecot and Postfix run as root here (the suite runs as root); `auth_failure_delay = 0` keeps the bad
password tests fast. There is no syslog on these machines, so Postfix logs to a file in the directory, and
a failing start prints both logs.
"""

from __future__ import annotations

import os
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

DOMAIN = "example.test"
USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
"""Login -> password; each has the address `<login>@example.test`."""
START_TIMEOUT_S = 20


@dataclass(frozen=True)
class MailServer:
    host: str
    imap_port: int
    imaps_port: int
    smtp_port: int
    """Plain SMTP with AUTH (tests only)."""
    submission_port: int
    """STARTTLS required before AUTH."""
    smtps_port: int
    """Implicit TLS."""
    lmtp_port: int
    ca_file: Path
    root: Path

    def address(self, user: str) -> str:
        return f"{user}@{DOMAIN}"

    def password(self, user: str) -> str:
        return USERS[user]


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports. The sockets are held until all are chosen: asked for one at a time, the
    kernel may hand out a port it just released again (a fresh clone's run once got Dovecot's "duplicate
    listener")."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _run(command: list[str], *, timeout: float = 30, log: Path | None = None) -> None:
    """Run a command to completion. A daemon (`log` given) keeps its output streams open after it forks, so
    it writes to a file instead of a pipe we would wait on forever."""
    if log is None:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        output = f"{result.stdout}\n{result.stderr}"
    else:
        with log.open("ab") as sink:
            result = subprocess.run(command, stdout=sink, stderr=sink, stdin=subprocess.DEVNULL, timeout=timeout, check=False)  # fmt: skip
        output = log.read_text(errors="replace")[-4000:]
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{output}")


def _wait_for_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def _certificate(root: Path) -> tuple[Path, Path]:
    cert, key = root / "cert.pem", root / "key.pem"
    _run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ]
    )  # fmt: skip
    return cert, key


def _dovecot_config(root: Path, ports: dict[str, int], cert: Path, key: str) -> Path:
    (root / "users").write_text("".join(f"{user}:{{PLAIN}}{pw}::::::\n" for user, pw in USERS.items()))
    mail = root / "mail"
    mail.mkdir()
    shutil.chown(mail, user="mail", group="mail")
    config = root / "dovecot.conf"
    config.write_text(
        f"""\
protocols = imap lmtp
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 8
first_valid_gid = 8
mail_location = maildir:{mail}/%n/Maildir
mail_uid = mail
mail_gid = mail
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Archive {{
    auto = create
    special_use = \\Archive
  }}
  mailbox Drafts {{
    auto = create
    special_use = \\Drafts
  }}
  mailbox Sent {{
    auto = subscribe
    special_use = \\Sent
  }}
  mailbox Trash {{
    auto = create
    special_use = \\Trash
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {root}/users
}}
userdb {{
  driver = static
  args = uid=mail gid=mail home={mail}/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {ports["imap"]}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {ports["imaps"]}
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {ports["lmtp"]}
  }}
}}
protocol lmtp {{
  auth_username_format = %n
}}
service anvil {{
  # Without this socket Dovecot applies no auth penalty (up to 15 s per login after failures from one IP),
  # which would make the wrong-password tests slow and flaky.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  inet_listener sasl {{
    address = 127.0.0.1
    port = {ports["sasl"]}
  }}
}}
"""
    )
    return config


def _postfix_config(root: Path, ports: dict[str, int], cert: Path, key: Path) -> Path:
    """An instance of its own: the package's stock master.cf with the port-25 listener removed, a main.cf
    of only the settings below (not /etc/postfix/main.cf, which depends on how the package was configured),
    the queue and data directories in `root`."""
    config = root / "postfix"
    config.mkdir()
    shutil.copy("/usr/share/postfix/master.cf.dist", config / "master.cf")
    (config / "main.cf").write_text("compatibility_level = 3.6\n")
    for directory in ("queue", "data"):
        (root / directory).mkdir()
    sasl = f"-o smtpd_sasl_auth_enable=yes -o smtpd_sasl_type=dovecot -o smtpd_sasl_path=inet:127.0.0.1:{ports['sasl']}"
    only_authenticated = (
        "-o smtpd_client_restrictions=permit_sasl_authenticated,reject"
        " -o smtpd_relay_restrictions=permit_sasl_authenticated,reject"
    )
    postconf = ["postconf", "-c", str(config)]
    _run(
        [
            *postconf, "-e",
            f"queue_directory = {root}/queue", f"data_directory = {root}/data",
            "multi_instance_name = postfix-meshclaw-test", "multi_instance_enable = yes",
            "inet_interfaces = loopback-only", "inet_protocols = ipv4", "mydestination =",
            f"myhostname = mail.{DOMAIN}", "mynetworks = 127.0.0.0/8", "alias_maps =", "alias_database =",
            f"virtual_mailbox_domains = {DOMAIN}", f"virtual_transport = lmtp:inet:127.0.0.1:{ports['lmtp']}",
            "default_transport = error:outbound mail disabled in test", "relay_transport = error",
            "smtp_dns_support_level = disabled", f"maillog_file = {root}/postfix.log",
            f"maillog_file_prefixes = {root}", f"smtpd_tls_cert_file = {cert}", f"smtpd_tls_key_file = {key}",
            "smtpd_tls_security_level = may", "message_size_limit = 52428800",
            # One address Postfix refuses at RCPT time, for the tests of refused recipients.
            f"smtpd_recipient_restrictions = check_recipient_access inline:{{ refused@{DOMAIN}=REJECT }}",
        ]
    )  # fmt: skip
    _run([*postconf, "-M#", "smtp/inet"])
    _run([*postconf, "-M", f"127.0.0.1:{ports['smtp']}/inet=127.0.0.1:{ports['smtp']} inet n - n - - smtpd {sasl} {only_authenticated}"])  # fmt: skip
    _run([*postconf, "-M", f"127.0.0.1:{ports['submission']}/inet=127.0.0.1:{ports['submission']} inet n - n - - smtpd -o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes {sasl} {only_authenticated}"])  # fmt: skip
    _run([*postconf, "-M", f"127.0.0.1:{ports['smtps']}/inet=127.0.0.1:{ports['smtps']} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes {sasl} {only_authenticated}"])  # fmt: skip
    return config


def _logs(root: Path) -> str:
    parts = []
    for name in ("start.log", "dovecot.log", "postfix.log"):
        path = root / name
        if path.exists():
            parts.append(f"--- {name}\n{path.read_text()[-4000:]}")
    return "\n".join(parts)


@contextmanager
def private_mail_server() -> Iterator[MailServer]:
    for binary in ("/usr/sbin/dovecot", "/usr/sbin/postfix"):
        if not Path(binary).exists():
            raise RuntimeError(f"{binary} is not installed; run scripts/test-deps/email.sh")
    if os.geteuid() != 0:
        raise RuntimeError("the test mail server (Dovecot and Postfix) must be started as root")
    root = Path(tempfile.mkdtemp(prefix="meshclaw-mail-"))
    root.chmod(0o755)  # Postfix's and Dovecot's unprivileged processes reach their files through it
    names = ("imap", "imaps", "lmtp", "sasl", "smtp", "submission", "smtps")
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    cert, key = _certificate(root)
    dovecot = _dovecot_config(root, ports, cert, str(key))
    postfix = _postfix_config(root, ports, cert, key)
    started: list[list[str]] = []
    try:
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            _run(["/usr/sbin/dovecot", "-c", str(dovecot)], log=root / "start.log")
            started.append(["/usr/bin/doveadm", "-c", str(dovecot), "stop"])
            _run(["/usr/sbin/postfix", "-c", str(postfix), "set-permissions", "create-missing"], timeout=60)
            _run(["/usr/sbin/postfix", "-c", str(postfix), "start"], log=root / "start.log")
            started.append(["/usr/sbin/postfix", "-c", str(postfix), "abort"])
            for port in ports.values():
                _wait_for_port(port, deadline)
        except (RuntimeError, TimeoutError, subprocess.TimeoutExpired) as error:
            raise RuntimeError(f"the test mail server did not start: {error}\n{_logs(root)}") from error
        yield MailServer(
            host="127.0.0.1",
            imap_port=ports["imap"],
            imaps_port=ports["imaps"],
            smtp_port=ports["smtp"],
            submission_port=ports["submission"],
            smtps_port=ports["smtps"],
            lmtp_port=ports["lmtp"],
            ca_file=cert,
            root=root,
        )
    finally:
        for command in reversed(started):
            subprocess.run(
                command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30, check=False
            )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def mail_server() -> Iterator[MailServer]:
    """Dovecot and Postfix for the whole session (about 1 s to start)."""
    with private_mail_server() as server:
        yield server
