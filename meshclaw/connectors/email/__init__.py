"""The email connector: a mailbox over IMAP (read, search, flag, move, drafts, new-mail events) and SMTP
(send, reply), with password or app-password auth over TLS, STARTTLS or (for tests) plain connections.

Files: `config.py` the account schema, `imap.py` and `smtp.py` the only code that speaks the protocols,
`mime.py` reading and building messages with the stdlib `email` package, `args.py` and `tools.py` the
tools, `sending.py` sending once per idempotency key, `events.py` the `email.received` source,
`manifest.py` the connector.
"""
