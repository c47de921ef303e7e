"""`meshclaw vault set|list|delete|rotate-kek` in-process: values come from stdin and are never echoed."""

from __future__ import annotations

import os
from pathlib import Path

from meshclaw.config import load_settings
from meshclaw.context import AppContext
from meshclaw.keyfile import write_key_file
from meshclaw.vault.keys import FILE_NAME, Kek, load_kek
from meshclaw.vault.store import Vault, find_secret
from tests.cli_runner import run_cli

VALUE = "imap-password-Zq81-never-printed"


def reveal(data_dir: Path, name: str) -> str:
    context = AppContext.from_settings(load_settings(data_dir=data_dir))
    try:
        with context.db.session() as session:
            row = find_secret(session, 1, owner="org", name=name)
            assert row is not None
            return Vault.for_data_dir(data_dir).read(row).reveal()
    finally:
        context.db.dispose()


def test_set_reads_stdin_and_never_echoes(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "vault", "set", "mail-password", "--purpose", "imap", stdin=VALUE + "\n")
    assert done.returncode == 0, done.stderr
    assert "Created secret mail-password" in done.stdout
    assert VALUE not in done.stdout + done.stderr
    listing = run_cli(tmp_path, "vault", "list")
    assert "mail-password" in listing.stdout and "imap" in listing.stdout and VALUE not in listing.stdout
    assert reveal(tmp_path, "mail-password") == VALUE
    exported = run_cli(tmp_path, "audit", "export")
    assert "admin.vault_secret_created" in exported.stdout and VALUE not in exported.stdout


def test_the_value_is_not_an_argument(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "vault", "set", "mail-password", VALUE, stdin="x")
    assert done.returncode != 0


def test_delete(tmp_path: Path) -> None:
    run_cli(tmp_path, "vault", "set", "token", stdin=VALUE)
    assert run_cli(tmp_path, "vault", "delete", "token").returncode == 0
    assert "token" not in run_cli(tmp_path, "vault", "list").stdout
    assert run_cli(tmp_path, "vault", "delete", "token").returncode == 2


def test_rotate_kek_rewraps_and_replaces_the_key_file(tmp_path: Path) -> None:
    run_cli(tmp_path, "vault", "set", "a", stdin="value-aaaa")
    run_cli(tmp_path, "vault", "set", "b", stdin="value-bbbb")
    new_key = os.urandom(32)
    new_file = tmp_path / "new.key"
    write_key_file(new_file, new_key)
    done = run_cli(tmp_path, "vault", "rotate-kek", "--new-key-file", str(new_file))
    assert done.returncode == 0, done.stderr
    assert "Re-wrapped 2 data key(s)" in done.stdout
    assert Kek.of(new_key).id in run_cli(tmp_path, "vault", "list").stdout
    assert load_kek(tmp_path)[0].key == new_key  # the data dir's key file now holds the new key
    assert (tmp_path / FILE_NAME).stat().st_mode & 0o777 == 0o600
    assert (reveal(tmp_path, "a"), reveal(tmp_path, "b")) == ("value-aaaa", "value-bbbb")
    again = run_cli(tmp_path, "vault", "rotate-kek", "--new-key-file", str(new_file))
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert run_cli(tmp_path, "audit", "verify").returncode == 0
