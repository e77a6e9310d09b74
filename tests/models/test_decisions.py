"""Moderator decisions as training examples (`monitor train --from-decisions`), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from models.dataset import from_decisions
from monitor.core import tables


def _item(session: Session, n: int, text: str, status: str, categories: list[str], user_id: int | None) -> None:
    incident = tables.Incident()
    session.add(incident)
    session.flush()
    post = tables.Post(platform="telegram", external_id=f"p{n}", url=f"https://t.me/x/{n}", text=text,
                       language="ru", published_at=datetime(2026, 11, 1, tzinfo=UTC), content_key=f"k{n}")
    session.add(post)
    session.flush()
    item = tables.QueueItem(incident_id=incident.id, post_id=post.id, status=status, categories=categories)
    session.add(item)
    session.flush()
    if user_id is not None:
        session.add(tables.Decision(queue_item_id=item.id, user_id=user_id, status=status))


def test_confirmed_and_dismissed_items_become_examples(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        user = tables.User(name="mod", role="moderator", password_hash="x")
        session.add(user)
        session.flush()
        _item(session, 1, "Старшеклассники избили ученика", "confirmed", ["physical_violence", "unknown"], user.id)
        _item(session, 2, "Турнир по вольной борьбе", "dismissed", [], user.id)
        _item(session, 3, "Ещё не решено", "new", ["bullying"], None)
        _item(session, 4, "Эскалировано", "escalated", ["threat_weapon"], user.id)
        session.commit()
    examples = sorted(from_decisions(sessions), key=lambda e: e.text)
    assert [(e.text, e.flag, e.categories, e.lang, e.kind) for e in examples] == [
        ("Старшеклассники избили ученика", 1, ("physical_violence",), "ru", "decision"),
        ("Турнир по вольной борьбе", 0, (), "ru", "decision"),
    ]
