"""SMTP: the only code here that speaks it, through aiosmtplib.

Sending is not retried here: after the DATA command the server may have taken the message even when the
connection then breaks, and a blind retry would send it twice. The caller (tools.py) makes a repeat of the
whole call safe instead, by finding the first copy in the Sent folder by its Message-ID.
"""

from __future__ import annotations

import asyncio
import ssl
from email.message import EmailMessage

import aiosmtplib

from meshclaw.connectors.email.config import EmailConfig
from meshclaw.connectors.email.imap import tls_context, tls_failure
from meshclaw.tools.registry import ToolError


async def send(config: EmailConfig, message: EmailMessage, recipients: list[str]) -> list[str]:
    """Send to `recipients` (the envelope, Bcc included); returns the recipients the server refused when
    it took the message for the others."""
    where = f"{config.smtp_host}:{config.smtp_port}"
    client = aiosmtplib.SMTP(
        hostname=config.smtp_host,
        port=config.smtp_port,
        use_tls=config.smtp_security == "tls",
        start_tls=config.smtp_security == "starttls",
        tls_context=tls_context(config),
        timeout=config.timeout_seconds,
    )
    try:
        # aiosmtplib's timeout covers each step; the outer one bounds the whole conversation.
        return await asyncio.wait_for(
            _deliver(client, config, message, recipients), timeout=config.timeout_seconds * 4
        )
    except aiosmtplib.SMTPAuthenticationError as error:
        raise ToolError(
            f"SMTP login as '{config.username}' at {where} failed ({error.code}): check the account's username "
            "and password (providers with two-factor sign-in want an app password)"
        ) from error
    except aiosmtplib.SMTPRecipientsRefused as error:
        refused = ", ".join(f"{item.recipient} ({item.code} {item.message})" for item in error.recipients)
        raise ToolError(f"the SMTP server refused every recipient: {refused}; nothing was sent") from error
    except (aiosmtplib.SMTPTimeoutError, TimeoutError) as error:
        raise ToolError(
            f"the SMTP server {where} did not answer within {config.timeout_seconds:g} s; the message was not "
            "confirmed as sent. Repeating this call checks the Sent folder first"
        ) from error
    except ssl.SSLError as error:
        raise ToolError(tls_failure("SMTP", where, error, setting="smtp_security")) from error
    except aiosmtplib.SMTPConnectError as error:
        if isinstance(error.__cause__, ssl.SSLError):
            raise ToolError(tls_failure("SMTP", where, error.__cause__, setting="smtp_security")) from error
        raise ToolError(f"cannot connect to the SMTP server {where} ({error}); check smtp_host and smtp_port") from error  # fmt: skip
    except aiosmtplib.SMTPServerDisconnected as error:
        raise ToolError(
            f"the SMTP server {where} dropped the connection ({error}); the message was not confirmed as sent. "
            "Repeating this call checks the Sent folder first"
        ) from error
    except aiosmtplib.SMTPResponseException as error:
        raise ToolError(
            f"the SMTP server {where} refused the message: {error.code} {error.message}"
        ) from error
    except aiosmtplib.SMTPException as error:
        raise ToolError(f"sending through {where} failed: {error}") from error
    except OSError as error:
        raise ToolError(
            f"cannot reach the SMTP server {where} ({error}); check smtp_host and smtp_port"
        ) from error


async def _deliver(
    client: aiosmtplib.SMTP, config: EmailConfig, message: EmailMessage, recipients: list[str]
) -> list[str]:
    async with client:
        await _login(client, config)
        refused, _ = await client.send_message(message, recipients=recipients)
    return [f"{address} ({response.code} {response.message})" for address, response in refused.items()]


async def _login(client: aiosmtplib.SMTP, config: EmailConfig) -> None:
    """One attempt with the best mechanism offered. (aiosmtplib's `login` tries every mechanism in turn:
    a wrong password then counts as two or three failures, which providers punish with delays and locks.)"""
    await client.ehlo()
    offered = client.server_auth_methods
    password = config.password.get_secret_value()
    if "plain" in offered:
        await client.auth_plain(config.username, password)
    elif "login" in offered:
        await client.auth_login(config.username, password)
    elif "cram-md5" in offered:
        await client.auth_crammd5(config.username, password)
    else:
        raise ToolError(
            f"the SMTP server {config.smtp_host}:{config.smtp_port} offers no password login"
            f"{' without TLS: set smtp_security to starttls or tls' if config.smtp_security == 'plain' else ''}"
        )
