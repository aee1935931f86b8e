"""E-mail through an SMTP relay with aiosmtplib: STARTTLS or implicit TLS, text and HTML parts.

The Message-ID is derived from the dedup key, so a re-sent alert (a worker
that died after the relay accepted it) can be recognised as the same message.
SMTP 4xx replies and lost connections are worth retrying; 5xx replies and a
refused recipient are not; a failed login is our configuration.
"""

from __future__ import annotations

import hashlib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

import aiosmtplib

from alerts.messages import email_html, email_text
from alerts.plan import Channel
from alerts.providers.base import Fault, GiveUp, Notification, ProviderFlags, Receipt, TryLater

__all__ = ["SmtpProvider", "build_message"]

TlsMode = Literal["starttls", "tls", "none"]


def build_message(note: Notification, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = note.address
    msg["Subject"] = note.subject
    msg["Date"] = formatdate(localtime=False)
    domain = sender.rpartition("@")[2].strip("> ") or "hotline.invalid"
    msg["Message-ID"] = f"<{hashlib.sha256(note.dedup_key.encode()).hexdigest()[:32]}@{domain}>"
    msg["X-Hotline-Alert"] = str(note.alert_id)
    msg.set_content(email_text(note))
    msg.add_alternative(email_html(note), subtype="html")
    return msg


class SmtpProvider:
    channel = Channel.EMAIL
    flags = ProviderFlags()

    def __init__(self, host: str, port: int, sender: str, *, tls: TlsMode = "starttls", username: str | None = None,
                 password: str | None = None, timeout: float = 15.0, tls_context: ssl.SSLContext | None = None) -> None:
        self.host, self.port, self.sender, self.tls = host, port, sender, tls
        self.username, self.password, self.timeout, self.tls_context = username, password, timeout, tls_context

    async def send(self, note: Notification) -> Receipt:
        msg = build_message(note, self.sender)
        try:
            await aiosmtplib.send(
                msg, hostname=self.host, port=self.port, username=self.username, password=self.password,
                use_tls=self.tls == "tls", start_tls=self.tls == "starttls", timeout=self.timeout,
                tls_context=self.tls_context,
            )
        except aiosmtplib.SMTPException as exc:
            raise _translate(exc) from exc
        except (OSError, ssl.SSLError) as exc:
            raise TryLater(f"SMTP relay {self.host}:{self.port} unreachable: {exc!r}") from exc
        return Receipt(provider_id=msg["Message-ID"])

    async def aclose(self) -> None:
        return None


def _translate(exc: aiosmtplib.SMTPException) -> TryLater | GiveUp:
    """The one place aiosmtplib's exceptions become the outbox's two outcomes."""
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return GiveUp(f"SMTP login refused ({exc.code} {exc.message}); check smtp_username / HOTLINE_SMTP_PASSWORD",
                      Fault.OURS)
    if isinstance(exc, aiosmtplib.errors.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        text = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        if any(400 <= c < 500 for c in codes):
            return TryLater(f"SMTP recipient deferred: {text}")
        return GiveUp(f"SMTP recipient refused: {text}")
    if isinstance(exc, (aiosmtplib.SMTPTimeoutError, aiosmtplib.SMTPConnectError)):
        return TryLater(f"SMTP relay: {exc}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if 400 <= exc.code < 500:
            return TryLater(f"SMTP {exc.code} {exc.message}")
        return GiveUp(f"SMTP {exc.code} {exc.message}")
    return TryLater(f"SMTP: {exc!r}")
