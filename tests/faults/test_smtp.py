"""SMTP faults: a server that answers DATA only after our timeout gets the digest at most once
("delivery uncertain", Message-ID recorded, shown on the dashboard); a silent server is a plain, retried failure."""

from __future__ import annotations

import asyncio
import html
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core.config import Settings, SmtpSettings
from monitor.core.db import transaction
from monitor.core.tables import DigestRun
from monitor.notify import mail
from monitor.notify.digest_runs import run_digests
from monitor.review.users import create_api_token, create_user
from monitor.web import create_app
from tests.service.conftest import Inbox, SmtpServer
from tests.service.seed import seed_digest
from tests.service.test_digest import NOW, runs, with_smtp


class SlowInbox(Inbox):
    """Takes the message, then answers only once the test opens the gate (after the client gave up)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        answer = await super().handle_DATA(server, session, envelope)  # type: ignore[arg-type]
        await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 60)
        return answer


@pytest.fixture
def slow_smtp(smtp_server: Callable[..., SmtpServer]) -> Iterator[SmtpServer]:
    server = smtp_server(running=False)
    inbox = SlowInbox()
    server.inbox = inbox
    server.start()
    yield server
    inbox.gate.set()


def test_answer_after_our_timeout_is_sent_once_and_marked_uncertain(
    settings: Settings, sessions: sessionmaker[Session], slow_smtp: SmtpServer
) -> None:
    settings = with_smtp(settings, slow_smtp)
    settings = settings.model_copy(update={"smtp": settings.smtp.model_copy(update={"timeout_s": 0.5})})
    seed_digest(sessions, NOW)
    [first] = run_digests(sessions, settings, NOW)
    assert first.status == "uncertain" and "delivery uncertain" in (first.error or "")
    assert isinstance(slow_smtp.inbox, SlowInbox)
    slow_smtp.inbox.gate.set()  # the server accepts it after all: the message did arrive
    [run] = runs(sessions)
    assert run.status == "uncertain" and run.message_id
    assert slow_smtp.inbox.messages[0].message["Message-ID"] == run.message_id
    for later in (timedelta(minutes=5), timedelta(hours=2), timedelta(hours=10)):
        [again] = run_digests(sessions, settings, NOW + later)
        assert again.status == "uncertain"
    assert len(slow_smtp.inbox.messages) == 1  # never resent automatically

    create_user(sessions, "admin", "admin", "correct horse battery")
    token = create_api_token(sessions, "admin")
    web = settings.web.model_copy(update={"session_secret": SecretStr("s" * 40)})
    with TestClient(create_app(settings.model_copy(update={"web": web}), sessions)) as client:
        page = client.get("/dashboard", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200 and "delivery uncertain" in page.text
    assert html.escape(str(run.message_id)) in page.text


def test_silent_server_is_a_plain_failure_retried_later(settings: Settings, sessions: sessionmaker[Session],
                                                       smtp_server: Callable[..., SmtpServer]) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # connections complete in the kernel, but no greeting ever comes
    try:
        server = SmtpServer(listener.getsockname()[1], Inbox(), {})
        settings = with_smtp(settings, server)
        settings = settings.model_copy(update={"smtp": SmtpSettings(host="127.0.0.1", port=server.port,
                                                                    timeout_s=0.3)})
        seed_digest(sessions, NOW)
        [first] = run_digests(sessions, settings, NOW)
    finally:
        listener.close()
    assert first.status == "failed" and "uncertain" not in (first.error or "")


def test_a_process_that_died_mid_send_is_not_resent(settings: Settings, sessions: sessionmaker[Session],
                                                   smtp_server: Callable[..., SmtpServer]) -> None:
    server = smtp_server()
    settings = with_smtp(settings, server)
    seed_digest(sessions, NOW)
    [sent] = run_digests(sessions, settings, NOW)
    assert sent.status == "sent"
    tomorrow = NOW + timedelta(days=1)
    with transaction(sessions) as session:  # as a killed process leaves it: claimed, Message-ID recorded
        row = session.get(DigestRun, runs(sessions)[0].id)
        assert row is not None
        session.add(DigestRun(day=tomorrow.date(), recipients_key=row.recipients_key, list_name=row.list_name,
                              status="sending", attempts=1, started_at=tomorrow, period_start_at=NOW,
                              period_end_at=tomorrow, next_attempt_at=tomorrow + timedelta(minutes=30),
                              message_id=mail.new_message_id("a@b.example")))
    assert [o.status for o in run_digests(sessions, settings, tomorrow + timedelta(minutes=10))] == ["busy"]
    assert [o.status for o in run_digests(sessions, settings, tomorrow + timedelta(hours=1))] == ["uncertain"]
    assert len(server.inbox.messages) == 1
