"""Sending email: build a multipart message and hand it to the configured SMTP server (thin)."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from monitor.core.config import SmtpSettings
from monitor.core.errors import DeliveryError


class MailError(DeliveryError):
    """The SMTP server could not be reached or refused the message."""


class MailUncertain(MailError):
    """The whole message went out but the server's answer never came: it may have been accepted.

    Never resend such a message automatically (at most once); `message_id` names it for a person to check."""

    def __init__(self, message: str, message_id: str | None) -> None:
        super().__init__(message)
        self.message_id = message_id


# The whole SMTP conversation (connect to QUIT) must finish within this many times `smtp.timeout_s`;
# each socket operation also waits at most `timeout_s`, so a server that trickles its answers is cut too.
CONVERSATION_TIMEOUTS = 4


class _Tracked:
    """Mixin for smtplib clients: knows when the message's final dot was sent and no answer came yet,
    and bounds every read by the conversation's deadline."""

    deadline: float = float("inf")
    awaiting_final_reply: bool = False
    _data_phase: int = 0

    def data(self, msg: Any) -> tuple[int, bytes]:
        self._data_phase = 1  # next reply: 354 to DATA; the one after: the answer to the message itself
        try:
            return super().data(msg)  # type: ignore[misc, no-any-return]
        finally:
            self._data_phase = 0

    def getreply(self) -> tuple[int, bytes]:
        remaining = self.deadline - time.monotonic()
        sock = getattr(self, "sock", None)
        if remaining <= 0:
            raise TimeoutError("the SMTP conversation took longer than its deadline")
        if sock is not None:
            current = sock.gettimeout()
            sock.settimeout(remaining if current is None else min(current, remaining))
        if self._data_phase == 2:
            self.awaiting_final_reply = True
        reply: tuple[int, bytes] = super().getreply()  # type: ignore[misc]
        if self._data_phase == 1:
            self._data_phase = 2
        elif self._data_phase == 2:
            self.awaiting_final_reply = False  # an answer came (accepted or refused): no doubt left
        return reply


class _Smtp(_Tracked, smtplib.SMTP):
    pass


class _SmtpSsl(_Tracked, smtplib.SMTP_SSL):
    pass


def build_message(subject: str, text: str, html: str, sender: str, recipients: Sequence[str],
                  message_id: str | None = None) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML second (Message-ID given or made)."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id or new_message_id(sender)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def new_message_id(sender: str) -> str:
    """A fresh Message-ID on the sender's domain."""
    return make_msgid(domain=sender.rpartition("@")[2] or "localhost")


def tls_context(smtp: SmtpSettings) -> ssl.SSLContext:
    """The TLS context for STARTTLS/SSL: system trust store, or `smtp.ca_file` when given."""
    return ssl.create_default_context(cafile=smtp.ca_file or None)


def send(smtp: SmtpSettings, message: EmailMessage, recipients: Sequence[str]) -> None:
    """Deliver one message per `[smtp]` (ssl, starttls, auth); MailError on any failure."""
    if not recipients:
        raise MailError("no recipients")
    client: _Smtp | _SmtpSsl | None = None
    refused: dict[str, tuple[int, bytes]] | None = None
    deadline = time.monotonic() + CONVERSATION_TIMEOUTS * smtp.timeout_s
    try:
        if smtp.ssl:
            client = _SmtpSsl(smtp.host, smtp.port, timeout=smtp.timeout_s, context=tls_context(smtp))
        else:
            client = _Smtp(smtp.host, smtp.port, timeout=smtp.timeout_s)
        client.deadline = deadline
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
        if refused is None:  # not accepted (an error after acceptance is only the goodbye failing)
            if client is not None and client.awaiting_final_reply:
                raise MailUncertain(f"smtp {smtp.host}:{smtp.port}: delivery uncertain: the message was sent but "
                                    f"the server did not answer ({type(e).__name__}: {e}); not resent",
                                    message.get("Message-ID")) from e
            raise MailError(f"smtp {smtp.host}:{smtp.port}: {type(e).__name__}: {e}") from e
    if refused:
        raise MailError(f"smtp {smtp.host}:{smtp.port} refused recipients: {', '.join(sorted(refused))}")
