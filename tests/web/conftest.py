"""Web test fixtures: an app on the test database, one signed-in client per role, seeded queue items."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core.config import Settings
from monitor.core.db import transaction
from monitor.core.tables import Classification, Incident, Post, QueueItem, Snapshot
from monitor.core.vocab import severity_rank
from monitor.ingest.pipeline import Pipeline
from monitor.review.users import create_user
from monitor.web import create_app
from tests.fakes import KeywordClassifier, TablePlaces

PASSWORD = "correct horse battery"
# Recent, so the dashboard's 30-day and 8-week windows include the seeded items whenever tests run.
BASE = (datetime.now(UTC) - timedelta(days=3)).replace(second=0, microsecond=0)
HOSTILE_TEXT = ('Драка в школе №7 <script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2"> '
                'ученика избили после уроков')


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    """Test settings with a fixed session secret; English, so the flow tests read the English message ids
    (tests/web/test_i18n.py checks the Russian and Kazakh interface)."""
    web = settings.web.model_copy(update={"session_secret": SecretStr("test-secret-" + "x" * 32),
                                          "language": "en"})
    return settings.model_copy(update={"web": web})


@pytest.fixture
def app(web_settings: Settings, sessions: sessionmaker[Session]) -> FastAPI:
    """The web app on the test database, with the keyword fake classifier for POST /api/posts."""
    pipeline = Pipeline(sessions, web_settings, classifier=KeywordClassifier(), places=TablePlaces())
    return create_app(web_settings, sessions, pipeline=pipeline)


@pytest.fixture
def users(sessions: sessionmaker[Session]) -> dict[str, int]:
    """One user per role plus a second moderator: name -> id."""
    out = {}
    for name, role in (("viewer", "viewer"), ("moderator", "moderator"), ("admin", "admin"),
                       ("moderator2", "moderator")):
        out[name] = create_user(sessions, name, role, PASSWORD).id or 0
    return out


def csrf_of(html: str) -> str:
    """The CSRF token from a page's meta tag."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match, "page has no csrf meta tag"
    return match.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": token, "next": "/"},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/").text)


@pytest.fixture
def client_for(app: FastAPI, users: dict[str, int]) -> Iterator[Callable[[str], tuple[TestClient, str]]]:
    """Signed-in clients: client_for('moderator') -> (client, csrf)."""
    clients: list[TestClient] = []

    def make(name: str) -> tuple[TestClient, str]:
        client = TestClient(app, base_url="http://testserver")
        clients.append(client)
        return client, login(client, name)

    yield make
    for client in clients:
        client.close()


@dataclass(frozen=True)
class Seeded:
    """Ids of the seeded items."""

    hostile: int
    talgar: list[int]
    karasai: list[int]
    snapshot_id: int


def add_item(session: Session, n: int, text: str, *, district: str, severity: str = "medium",
             category: str = "physical_violence", platform: str = "telegram", language: str = "ru",
             evidence: list[dict[str, Any]] | None = None, snapshot: Snapshot | None = None,
             url: str | None = None, media: list[dict[str, Any]] | None = None) -> int:
    """One post + classification + incident + queue item, stored directly."""
    incident = Incident(district=district, region="Almaty Region")
    session.add(incident)
    session.flush()
    post = Post(platform=platform, external_id=f"web-{n}", url=url or f"https://t.me/chan/{n}", text=text,
                author=f"author_{n}", published_at=BASE + timedelta(minutes=n), content_key=f"key-{n}",
                incident_id=incident.id, region="Almaty Region", district=district, language=language,
                snapshot_id=snapshot.id if snapshot else None, snapshot_sha256=snapshot.sha256 if snapshot else None,
                media=media or [], has_video=any(m.get("type") == "video" for m in media or []))
    session.add(post)
    session.flush()
    session.add(Classification(post_id=post.id or 0, model_version="kw-1", score=0.9, flag=True,
                               categories={category: 0.9}, severity=severity, evidence=evidence or []))
    item = QueueItem(incident_id=incident.id or 0, post_id=post.id or 0, severity=severity,
                     severity_rank=severity_rank(severity), score=0.9, category=category, categories=[category],
                     model_version="kw-1", region="Almaty Region", district=district, platform=platform,
                     language=language, has_video=post.has_video, created_at=BASE + timedelta(minutes=n))
    session.add(item)
    session.flush()
    return item.id or 0


@pytest.fixture
def seeded(sessions: sessionmaker[Session]) -> Seeded:
    """A hostile post with a snapshot and evidence, 3 items in Talgar and 2 in Karasai."""
    with transaction(sessions) as session:
        body = b"<html><script>alert(1)</script>archived page body</html>"
        import hashlib

        snap = Snapshot(sha256=hashlib.sha256(body).hexdigest(), url="https://t.me/chan/1",
                        content_type="text/html", size=len(body), body_z=zlib.compress(body))
        session.add(snap)
        session.flush()
        start = HOSTILE_TEXT.index("избили")
        hostile = add_item(session, 1, HOSTILE_TEXT, district="Talgar", severity="high", snapshot=snap,
                           evidence=[{"start": start, "end": start + 6, "text": "избили"},
                                     {"start": 0, "end": 5, "text": "Драка"}],
                           media=[{"type": "video", "url": "javascript:alert(1)"},
                                  {"type": "photo", "url": "https://cdn.example/p.jpg"}])
        talgar = [hostile] + [add_item(session, n, f"Ученика избили в школе {n}", district="Talgar")
                              for n in range(2, 4)]
        karasai = [add_item(session, n, f"Буллинг в школе {n}", district="Karasai", category="bullying",
                            platform="vk", severity="low") for n in range(4, 6)]
        assert snap.id is not None
        return Seeded(hostile=hostile, talgar=talgar, karasai=karasai, snapshot_id=snap.id)
