"""Sending email over SMTP with aiosmtplib; messages built with the stdlib `email` package.

Only the outbox sends mail (S13's "a contact tried to book" email), so a crash between
commit and send neither loses nor doubles a message beyond SMTP's own at-least-once.
Failures are sorted for the outbox: `MailRejected` (the server refused the message or a
recipient: retrying cannot help) and `MailUnavailable` (connect, TLS, timeout, 4xx: retry).
Messages never contain the SMTP password.
"""

from __future__ import annotations

import email.utils
import enum
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from slotgraph.errors import SafeMessageError
from slotgraph.providers.outbound import Trust
from slotgraph.providers.outbound import is_certificate_failure


class SmtpSecurity(enum.StrEnum):
    STARTTLS = "starttls"  # plain connect, then STARTTLS (port 587)
    TLS = "tls"  # TLS from the first byte (port 465)
    NONE = "none"  # loopback relays and tests only


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    # C46: CAs trusted beside the public ones (SLOTGRAPH_CA_BUNDLE), for TLS and STARTTLS.
    extra_ca: tuple[Path, ...] = ()

    def __repr__(self) -> str:
        return f"SmtpConfig(host={self.host!r}, port={self.port}, sender={self.sender!r})"


class MailError(SafeMessageError):
    """A send failed; `message` is safe to show and store."""


class MailRejected(MailError):
    """The server refused the message or its recipient (5xx): retrying will not help."""


class MailUnavailable(MailError):
    """The server could not be reached or asked us to try later: worth retrying."""


def build_message(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = email.utils.make_msgid(domain="slotgraph")
    message.set_content(body)
    return message


class Mailer:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, to: str, subject: str, body: str) -> None:
        await self.send_message(build_message(self.config.sender, to, subject, body))

    async def send_message(self, message: EmailMessage) -> None:
        """Send a finished message to its To address."""
        config = self.config
        to = str(message["To"])
        try:
            await aiosmtplib.send(
                message,
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                use_tls=config.security is SmtpSecurity.TLS,
                start_tls=config.security is SmtpSecurity.STARTTLS,
                timeout=config.timeout,
                tls_context=Trust(config.extra_ca).ssl_context(),
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            # C21: a 5xx at RCPT bounces for good; a 4xx (greylisting, a full mailbox) may pass.
            codes = [recipient.code for recipient in refused.recipients]
            if any(400 <= code < 500 for code in codes):
                raise MailUnavailable(
                    f"The mail server deferred the recipient {to} ({codes[0]}); will retry."
                ) from None
            raise MailRejected(f"The mail server refused the recipient {to}.") from None
        except aiosmtplib.SMTPResponseException as error:
            if 500 <= error.code < 600:
                raise MailRejected(f"The mail server refused the message ({error.code}).") from None
            raise MailUnavailable(
                f"The mail server asked us to try later ({error.code})."
            ) from None
        except (aiosmtplib.SMTPException, OSError) as error:
            if is_certificate_failure(error):
                raise MailUnavailable(
                    f"The mail server {config.host}:{config.port} presented a TLS certificate "
                    "no trusted CA signed; an internal CA is added with SLOTGRAPH_CA_BUNDLE."
                ) from None
            raise MailUnavailable(
                f"The mail server {config.host}:{config.port} could not be reached."
            ) from None
