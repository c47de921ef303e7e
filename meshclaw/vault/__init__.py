"""Owns secrets at rest: connector credentials encrypted with envelope encryption.

Each secret gets its own random data key (AES-256-GCM over the value); the data key is stored wrapped
(AES-256-GCM again) by the key-encryption key (KEK), which lives outside the database: env
`MESHCLAW_VAULT_KEY` or `<data_dir>/vault.key` (0600, created on first start). The associated data binds
both ciphertexts to their row (id, organization, owner, name), so a ciphertext copied into another row
does not decrypt. Rotating the KEK re-wraps the data keys only.

- `keys`: the KEK and its fingerprint (`kek_id`, stored per row).
- `crypto`: seal and open one value (pure functions, no SQL).
- `store`: `Vault`: create, replace, read (as `SecretValue`), list metadata, delete.
- `rotation`: `rotate_kek`, batch by batch, resumable.
- `secret`: `SecretValue`, whose repr and str never show the value.
- `logfilter`: redacts every value the vault has decrypted from log records.

Values never leave through `list`, the API, errors or logs; only `SecretValue.reveal()` returns one, and
only the connector layer calls it.
"""
