"""Sending email: build a multipart message and hand it to the configured SMTP server (thin)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from monitor.core.config import SmtpSettings
from monitor.core.errors import DeliveryError


class MailError(DeliveryError):
    """The SMTP server could not be reached or refused the message."""


def build_message(subject: str, text: str, html: str, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML second."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def tls_context(smtp: SmtpSettings) -> ssl.SSLContext:
    """The TLS context for STARTTLS/SSL: system trust store, or `smtp.ca_file` when given."""
    return ssl.create_default_context(cafile=smtp.ca_file or None)


def send(smtp: SmtpSettings, message: EmailMessage, recipients: Sequence[str]) -> None:
    """Deliver one message per `[smtp]` (ssl, starttls, auth); MailError on any failure."""
    if not recipients:
        raise MailError("no recipients")
    client: smtplib.SMTP
    try:
        if smtp.ssl:
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s, context=tls_context(smtp))
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
        with client:
            client.ehlo()
            if smtp.starttls and not smtp.ssl:
                client.starttls(context=tls_context(smtp))
                client.ehlo()
            if smtp.username:
                password = smtp.password.get_secret_value() if smtp.password else ""
                client.login(smtp.username, password)
            refused = client.send_message(message, from_addr=smtp.from_addr, to_addrs=list(recipients))
    except (smtplib.SMTPException, OSError) as e:
        raise MailError(f"smtp {smtp.host}:{smtp.port}: {type(e).__name__}: {e}") from e
    if refused:
        raise MailError(f"smtp {smtp.host}:{smtp.port} refused recipients: {', '.join(sorted(refused))}")
