"""Envelope encryption end to end on a real database: round trip, wrong key, moved and altered
ciphertexts, KEK rotation, and no plaintext in logs."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

import pytest
from sqlalchemy import text

from meshclaw.context import AppContext
from meshclaw.db.models.vault import VaultSecret
from meshclaw.keyfile import write_key_file
from meshclaw.vault.keys import ENV_VAR, FILE_NAME, Kek, load_kek
from meshclaw.vault.rotation import rotate_kek
from meshclaw.vault.secret import SecretValue
from meshclaw.vault.store import Vault, VaultError, get_secret, list_secrets
from tests.postgres import BOTH_BACKENDS

SECRET = "xoxb-9f8e7d6c5b4a-very-secret-token"


def put(context: AppContext, vault: Vault, name: str, value: str, owner: int | None = None) -> int:
    with context.db.session() as session:
        row, _ = vault.put(
            session, org_id=1, owner_user_id=owner, name=name, value=value, now=context.clock.now()
        )
        return row.id


def read(context: AppContext, vault: Vault, secret_id: int) -> SecretValue:
    with context.db.session() as session:
        return vault.read(get_secret(session, 1, secret_id))


@pytest.fixture
def vault(context: AppContext) -> Vault:
    return Vault.for_data_dir(context.settings.data_dir)


@BOTH_BACKENDS
def test_a_value_round_trips_and_is_not_stored_in_clear(context: AppContext, vault: Vault) -> None:
    secret_id = put(context, vault, "slack-bot", SECRET, owner=5)
    assert read(context, vault, secret_id).reveal() == SECRET
    with context.db.engine.connect() as connection:
        raw = connection.execute(text("SELECT * FROM vault_secrets")).all()
    assert SECRET.encode() not in repr(raw).encode() and SECRET not in repr(raw)


def test_the_key_file_is_created_0600_on_first_start(context: AppContext) -> None:
    path = context.settings.data_dir / FILE_NAME
    assert not path.exists()
    kek, loaded = load_kek(context.settings.data_dir)
    assert loaded.source == "created" and path.stat().st_mode & 0o777 == 0o600
    assert load_kek(context.settings.data_dir)[0] == kek
    env_key = base64.b64encode(os.urandom(32)).decode()
    assert load_kek(context.settings.data_dir, environ={ENV_VAR: env_key})[0].key == base64.b64decode(env_key)


def test_a_secret_value_never_prints() -> None:
    value = SecretValue(SECRET)
    assert SECRET not in repr(value) and SECRET not in str(value) and SECRET not in f"{value} {value!r}"


def test_replacing_a_value_bumps_the_version(context: AppContext, vault: Vault) -> None:
    first = put(context, vault, "gh", "ghp_old_value_1234")
    second = put(context, vault, "gh", "ghp_new_value_5678")
    assert first == second
    assert read(context, vault, first).reveal() == "ghp_new_value_5678"
    with context.db.session() as session:
        assert get_secret(session, 1, first).version == 2


def test_the_wrong_kek_fails_clearly(context: AppContext, vault: Vault) -> None:
    secret_id = put(context, vault, "slack-bot", SECRET)
    other = Vault(kek=Kek.of(os.urandom(32)))
    with pytest.raises(VaultError, match="key-encryption key") as caught:
        read(context, other, secret_id)
    assert SECRET not in str(caught.value)
    # Same id claimed, different bytes: the tag check catches it.
    impostor = Vault(kek=Kek(os.urandom(32), vault.kek.id))
    with pytest.raises(VaultError, match="does not decrypt"):
        read(context, impostor, secret_id)


@BOTH_BACKENDS
def test_a_ciphertext_moved_to_another_row_does_not_decrypt(context: AppContext, vault: Vault) -> None:
    alice = put(context, vault, "mail", "alice-imap-password", owner=1)
    bob = put(context, vault, "mail", "bob-imap-password", owner=2)
    with context.db.session() as session:
        a, b = get_secret(session, 1, alice), get_secret(session, 1, bob)
        b.ciphertext, b.nonce, b.wrapped_key, b.wrap_nonce = (
            a.ciphertext,
            a.nonce,
            a.wrapped_key,
            a.wrap_nonce,
        )
    with pytest.raises(VaultError, match="another secret's row"):
        read(context, vault, bob)
    assert read(context, vault, alice).reveal() == "alice-imap-password"


def test_a_tampered_ciphertext_fails(context: AppContext, vault: Vault) -> None:
    secret_id = put(context, vault, "deploy", "deploy-token-abcdef")
    with context.db.session() as session:
        row = get_secret(session, 1, secret_id)
        row.ciphertext = bytes([row.ciphertext[0] ^ 1]) + row.ciphertext[1:]
    with pytest.raises(VaultError, match="value was altered"):
        read(context, vault, secret_id)


@BOTH_BACKENDS
def test_rotation_rewraps_every_data_key_and_the_old_kek_is_no_longer_needed(
    context: AppContext, vault: Vault
) -> None:
    ids = [put(context, vault, f"s{n}", f"value-number-{n}") for n in range(5)]
    with context.db.session() as session:
        before = {row.id: row.ciphertext for row in list_secrets(session, 1)}
    new = Kek.of(os.urandom(32))
    done = rotate_kek(context.db, old=vault.kek, new=new, batch=2)
    assert (done.rewrapped, done.already) == (5, 0)
    rotated = Vault(kek=new)
    assert [read(context, rotated, i).reveal() for i in ids] == [f"value-number-{n}" for n in range(5)]
    with context.db.session() as session:
        rows = list_secrets(session, 1)
        assert {row.id: row.ciphertext for row in rows} == before  # values were not re-encrypted
        assert {row.kek_id for row in rows} == {new.id}
    with pytest.raises(VaultError):
        read(context, vault, ids[0])
    # Running it again (a resumed rotation) finds nothing left to do.
    assert rotate_kek(context.db, old=vault.kek, new=new).rewrapped == 0


def test_an_interrupted_rotation_resumes(context: AppContext, vault: Vault) -> None:
    ids = [put(context, vault, f"s{n}", f"value-number-{n}") for n in range(4)]
    new = Kek.of(os.urandom(32))
    with context.db.session() as session:
        # Simulate a crash after the first batch: one row already under the new key.
        row = session.get(VaultSecret, ids[0])
        assert row is not None
        from meshclaw.vault.crypto import unwrap, wrap
        from meshclaw.vault.store import binding

        data_key = unwrap(row.wrapped_key, row.wrap_nonce, kek=vault.kek, binding=binding(row))
        row.wrapped_key, row.wrap_nonce = wrap(data_key, kek=new, binding=binding(row))
        row.kek_id = new.id
    done = rotate_kek(context.db, old=vault.kek, new=new)
    assert (done.rewrapped, done.already) == (3, 1)
    assert {read(context, Vault(kek=new), i).reveal() for i in ids} == {f"value-number-{n}" for n in range(4)}


def test_decrypted_values_never_reach_the_logs(
    context: AppContext, vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_id = put(context, vault, "slack-bot", SECRET)
    logging.getLogger("meshclaw.api").info("request body: {'value': '%s'}", SECRET)  # stored, not yet read
    value = read(context, vault, secret_id)
    log = logging.getLogger("meshclaw.connectors.slack")
    log.info("authenticating with %s", value.reveal())
    log.warning("token=%s rejected", value.reveal(), extra={"detail": f"sent {value.reveal()}"})
    log.info(f"careless f-string {value.reveal()}")
    try:
        raise RuntimeError(f"remote said: bad token {value.reveal()}")
    except RuntimeError:
        log.exception("call failed")
    logging.getLogger().error("root logger %s", value.reveal())
    text_out = caplog.text + "".join(repr(vars(record)) for record in caplog.records)
    assert SECRET not in text_out
    assert "[vault secret]" in caplog.text and "call failed" in caplog.text


def test_a_world_readable_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    write_key_file(path, os.urandom(32))
    path.chmod(0o644)
    from meshclaw.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="chmod 600"):
        load_kek(tmp_path)


def test_reading_a_value_registers_it_with_the_log_filter(
    context: AppContext, vault: Vault, caplog: pytest.LogCaptureFixture
) -> None:
    from meshclaw.vault.logfilter import SecretLogFilter

    secret_id = put(context, vault, "read-only", "stored-by-another-process-4417")
    # Forget what this process has seen, as a process that never stored the value would.
    root = logging.getLogger()
    for known in [f for f in root.filters if isinstance(f, SecretLogFilter)]:
        root.removeFilter(known)
        for handler in root.handlers:
            handler.removeFilter(known)
    caplog.set_level(logging.INFO)
    value = read(context, vault, secret_id)
    logging.getLogger("meshclaw.connectors.mail").warning("login with %s failed", value.reveal())
    assert "stored-by-another-process-4417" not in caplog.text and "[vault secret]" in caplog.text
