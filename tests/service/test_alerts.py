"""Immediate alerts: critical and escalated items, batched within the window, rate-limited, webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.config import AlertSettings, Settings, SmtpSettings, WebSettings
from monitor.core.db import transaction
from monitor.core.tables import Alert, QueueItem
from monitor.notify.alerts import send_alerts
from monitor.review import claims, queue
from monitor.review.escalation import raise_alert
from tests.helpers import make_user
from tests.service.conftest import SmtpServer
from tests.service.seed import add_item

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
ON_CALL = ("oncall@edu.example.kz",)


class Hook:
    """A real HTTP server in a thread that records the JSON POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[dict[str, str], bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                hook.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(hook.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    yield server
    server.close()


def alert_settings(settings: Settings, server: SmtpServer, **alerts: Any) -> Settings:
    return settings.model_copy(
        update={
            "smtp": SmtpSettings(host="127.0.0.1", port=server.port, timeout_s=5),
            "alerts": AlertSettings(
                **{"recipients": ON_CALL, "batch_window_s": 60, "check_interval_s": 15, **alerts}
            ),
            "web": WebSettings(base_url="https://monitor.example.kz"),
        }
    )


def alerts(sessions: sessionmaker[Session]) -> list[Alert]:
    with sessions() as session:
        return list(session.exec(select(Alert).order_by(Alert.id)).all())  # type: ignore[arg-type]


def test_critical_items_are_batched_within_the_window_into_one_email(
    settings: Settings, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server()
    settings = alert_settings(settings, server)
    first = add_item(
        sessions,
        status="new",
        created_at=NOW,
        severity="critical",
        district="Karasai",
        school="School No. 12 (Kaskelen)",
        category="threat_weapon",
    )
    add_item(sessions, status="new", created_at=NOW, severity="high", district="Talgar")  # not critical

    assert send_alerts(sessions, settings, now=NOW).status == "batching"
    second = add_item(
        sessions, status="new", created_at=NOW + timedelta(seconds=30), severity="critical", district="Ili"
    )
    assert send_alerts(sessions, settings, now=NOW + timedelta(seconds=30)).status == "batching"
    assert server.inbox.messages == []

    assert [a.queue_item_id for a in alerts(sessions)] == [first, second]
    result = send_alerts(sessions, settings, now=NOW + timedelta(seconds=60))
    assert (result.status, result.sent) == ("sent", 2)
    [received] = server.inbox.messages
    assert received.recipients == list(ON_CALL)
    assert received.message["Subject"] == "СРОЧНО school-monitor: 2 инцидента требуют внимания"
    text = received.message.get_body(("plain",))
    assert text is not None
    body = str(text.get_content())
    assert "Карасай" in body and "школа №12 (Каскелен)" in body and "Или" in body and "Талгар" not in body
    assert f"https://monitor.example.kz/items/{first}" in body
    assert all(a.sent_at is not None for a in alerts(sessions))
    with sessions() as session:
        assert session.get(QueueItem, first).alerted_at is not None  # type: ignore[union-attr]
    # Nothing is sent twice.
    assert send_alerts(sessions, settings, now=NOW + timedelta(hours=1)).status == "idle"
    assert len(server.inbox.messages) == 1


def test_escalation_by_a_moderator_raises_an_alert_once(
    settings: Settings, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server()
    settings = alert_settings(settings, server, batch_window_s=0)
    item_id = add_item(sessions, status="new", created_at=NOW, severity="medium", district="Balkhash")
    moderator = make_user(sessions)
    claims.claim(sessions, moderator, item_id)
    queue.decide(sessions, moderator, item_id, "escalated", note="teacher named in two posts")
    with transaction(sessions) as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        assert raise_alert(session, item, "escalated") is None  # already raised by the decision

    result = send_alerts(sessions, settings, now=datetime.now(UTC) + timedelta(seconds=1))
    assert (result.status, result.sent) == ("sent", 1)
    [received] = server.inbox.messages
    assert "передано выше модератором" in str(received.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def test_rate_limited_to_max_batches_per_hour(
    settings: Settings, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server()
    settings = alert_settings(settings, server, batch_window_s=0, max_per_hour=2)
    start = NOW
    statuses = []
    for minute in range(3):
        add_item(sessions, status="new", created_at=start, severity="critical")
        statuses.append(send_alerts(sessions, settings, now=start + timedelta(minutes=minute)).status)
    assert statuses == ["sent", "sent", "rate_limited"]
    assert len(server.inbox.messages) == 2
    assert send_alerts(sessions, settings, now=start + timedelta(minutes=61)).status == "sent"
    assert len(server.inbox.messages) == 3


def test_failed_send_is_retried_with_backoff(
    settings: Settings, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server(running=False)
    settings = alert_settings(settings, server, batch_window_s=0)
    add_item(sessions, status="new", created_at=NOW, severity="critical")
    failed = send_alerts(sessions, settings, now=NOW)
    assert failed.status == "failed" and "Connection refused" in (failed.error or "")
    server.start()
    assert send_alerts(sessions, settings, now=NOW + timedelta(seconds=14)).status == "batching"
    assert send_alerts(sessions, settings, now=NOW + timedelta(seconds=15)).status == "sent"
    assert len(server.inbox.messages) == 1
    [row] = alerts(sessions)
    assert row.attempts == 2 and row.error is None


def test_webhook_gets_signed_json_even_when_email_is_down(
    settings: Settings, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer], hook: Hook
) -> None:
    server = smtp_server(running=False)
    settings = alert_settings(
        settings, server, batch_window_s=0, webhook_url=hook.url, webhook_secret="hook-key"
    )
    item_id = add_item(
        sessions,
        status="new",
        created_at=NOW,
        severity="critical",
        district="Karasai",
        author="@someone_real",
    )
    with httpx.Client() as client:
        result = send_alerts(sessions, settings, client, now=NOW)
    assert result.status == "sent" and "Connection refused" in (result.error or "")
    [(headers, body)] = hook.requests
    assert headers["content-type"] == "application/json"
    expected = "sha256=" + hmac.new(b"hook-key", body, hashlib.sha256).hexdigest()
    assert headers["x-monitor-signature"] == expected
    payload = json.loads(body)
    [alert] = payload["alerts"]
    assert alert["item_id"] == item_id and alert["district"] == "Karasai" and alert["reason"] == "critical"
    assert alert["link"] == f"https://monitor.example.kz/items/{item_id}"
    assert "someone_real" not in body.decode()


def test_old_critical_items_are_left_to_the_digest(
    settings: Settings, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server()
    settings = alert_settings(settings, server, batch_window_s=0)
    add_item(sessions, status="new", created_at=NOW - timedelta(days=3), severity="critical")
    assert send_alerts(sessions, settings, now=NOW).status == "idle"
    assert alerts(sessions) == []


def test_a_post_joining_a_confirmed_item_alerts_as_an_update(
    settings: Settings, sessions: sessionmaker[Session], smtp_server: Callable[..., SmtpServer]
) -> None:
    server = smtp_server()
    settings = alert_settings(settings, server, batch_window_s=0)
    item_id = add_item(sessions, status="confirmed", created_at=NOW, severity="medium", district="Talgar")
    with transaction(sessions) as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        queue.note_new_posts(session, item, [1])
    result = send_alerts(sessions, settings, now=datetime.now(UTC) + timedelta(seconds=1))
    assert (result.status, result.sent) == ("sent", 1)
    [received] = server.inbox.messages
    assert "новая публикация по решённому инциденту" in str(received.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
