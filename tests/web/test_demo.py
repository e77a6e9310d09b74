"""`monitor demo`: the synthetic dataset goes through the pipeline, is marked, and can be removed whole."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.config import Settings
from monitor.core.tables import Classification, Decision, Incident, Post, QueueItem, User
from monitor.ingest.pipeline import Pipeline
from monitor.service.demo import DEMO_PREFIX, demo_posts, load_demo, remove_demo
from tests.fakes import KeywordClassifier, TablePlaces
from tests.web.conftest import add_item


def _count(sessions: sessionmaker[Session], table: type) -> int:
    with sessions() as session:
        return int(session.exec(select(sa.func.count()).select_from(table)).one())


def test_demo_file_is_marked_and_multilingual() -> None:
    posts = demo_posts()
    assert len(posts) >= 30 and all(p.external_id.startswith(DEMO_PREFIX) for p in posts)
    assert all(p.url.startswith("https://example.org/demo/") for p in posts)
    assert all(p.text.startswith(("ДЕМО.", "DEMO.")) for p in posts)
    assert any(p.has_video for p in posts)


def test_demo_loads_through_the_pipeline_and_is_removed_whole(settings: Settings,
                                                              sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:  # a real, non-demo item that must survive the removal
        add_item(session, 900, "Ученика избили", district="Talgar")
    pipeline = Pipeline(sessions, settings, classifier=KeywordClassifier(), places=TablePlaces())
    first = load_demo(pipeline, sessions)
    assert first.ingest.new == len(demo_posts()) and first.ingest.enqueued > 3
    assert first.password and first.decided == 3
    again = load_demo(pipeline, sessions)
    assert again.ingest.new == 0 and again.password is None
    with sessions() as session:
        assert session.exec(select(User).where(User.name == "demo")).one().role == "moderator"
    assert _count(sessions, Decision) == 3

    removed = remove_demo(sessions)
    assert removed == len(demo_posts())
    with sessions() as session:
        left = session.exec(select(Post.external_id)).all()
        assert left == ["web-900"]
        assert session.exec(select(User).where(User.name == "demo")).first() is None
        assert session.exec(select(sa.func.count()).select_from(QueueItem)).one() == 1
        assert session.exec(select(sa.func.count()).select_from(Classification)).one() == 1
        assert session.exec(select(sa.func.count()).select_from(Incident)
                            .where(col(Incident.id).not_in(select(Post.incident_id)))).one() == 0
    assert _count(sessions, Decision) == 0
