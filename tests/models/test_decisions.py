"""Moderator decisions as training examples (`monitor train --from-decisions`), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from models.dataset import from_decisions
from monitor.core import tables

AT = datetime(2026, 11, 2, tzinfo=UTC)


def _item(session: Session, n: int, text: str, status: str, categories: list[str], user_id: int | None,
          reason: str | None = None) -> int:
    incident = tables.Incident()
    session.add(incident)
    session.flush()
    post = tables.Post(platform="telegram", external_id=f"p{n}", url=f"https://t.me/x/{n}", text=text,
                       language="ru", published_at=datetime(2026, 11, 1, tzinfo=UTC), content_key=f"k{n}")
    session.add(post)
    session.flush()
    item = tables.QueueItem(incident_id=incident.id, post_id=post.id, status=status, categories=categories,
                            category=categories[0] if categories else None)
    session.add(item)
    session.flush()
    if user_id is not None:
        session.add(tables.Decision(queue_item_id=item.id, user_id=user_id, status=status, reason=reason,
                                    decided_at=AT))
    return item.id or 0


def test_decisions_become_examples(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        user = tables.User(name="mod", role="moderator", password_hash="x")
        session.add(user)
        session.flush()
        _item(session, 1, "Старшеклассники избили ученика", "confirmed", ["physical_violence", "unknown"], user.id)
        _item(session, 2, "Турнир по вольной борьбе", "dismissed", [], user.id, "not_violence")
        _item(session, 3, "Ещё не решено", "new", ["bullying"], None)
        # Escalated is a real incident sent up: a positive, with its categories.
        _item(session, 4, "Эскалировано", "escalated", ["threat_weapon"], user.id)
        # Dismissed as a duplicate or old news: a right flag, already seen, never a negative.
        _item(session, 5, "Дубликат", "dismissed", ["bullying"], user.id, "duplicate")
        _item(session, 6, "Старая новость", "dismissed", ["bullying"], user.id, "old_news")
        _item(session, 7, "Кино про школу", "dismissed", ["bullying"], user.id, "fiction_or_film")
        # Confirmed, then folded into another item: its posts count there.
        merged = _item(session, 8, "Слито", "confirmed", ["bullying"], user.id)
        item = session.get(tables.QueueItem, merged)
        assert item is not None
        item.status = "merged"
        session.add(item)
        session.commit()
    examples = sorted(from_decisions(sessions), key=lambda e: e.text)
    assert [(e.text, e.flag, e.categories, e.lang, e.kind) for e in examples] == [
        ("Кино про школу", 0, (), "ru", "decision"),
        ("Старшеклассники избили ученика", 1, ("physical_violence",), "ru", "decision"),
        ("Турнир по вольной борьбе", 0, (), "ru", "decision"),
        ("Эскалировано", 1, ("threat_weapon",), "ru", "decision"),
    ]


def test_latest_decision_and_corrected_categories_count(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        user = tables.User(name="mod", role="moderator", password_hash="x")
        session.add(user)
        session.flush()
        # Dismissed as a duplicate first, reopened, then dismissed as not violence: the latest reason counts.
        item_id = _item(session, 1, "Сначала дубликат", "dismissed", [], user.id, "not_violence")
        session.add(tables.Decision(queue_item_id=item_id, user_id=user.id, status="dismissed", reason="duplicate",
                                    decided_at=AT - timedelta(hours=1)))
        # A moderator corrected the categories: the example carries the corrected set.
        corrected = _item(session, 2, "Учитель ударил ученика", "confirmed", ["physical_violence"], user.id)
        item = session.get(tables.QueueItem, corrected)
        assert item is not None
        item.categories, item.category = ["teacher_misconduct", "physical_violence"], "teacher_misconduct"
        session.add(item)
        session.commit()
    examples = sorted(from_decisions(sessions), key=lambda e: e.text)
    assert [(e.text, e.flag, e.categories) for e in examples] == [
        ("Сначала дубликат", 0, ()),
        ("Учитель ударил ученика", 1, ("teacher_misconduct", "physical_violence")),
    ]
