"""Builders shared by tests: users, posts and queue items without going through the classifier."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from monitor.core.db import transaction
from monitor.core.posts import Media, Post
from monitor.core.tables import Classification, Incident, QueueItem, User
from monitor.core.tables import Post as PostRow
from monitor.review.users import create_user

BASE_TIME = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
_SEQ = itertools.count()


def make_user(sessions: sessionmaker[Session], name: str = "mod", role: str = "moderator") -> User:
    """A user with password 'correct horse'."""
    return create_user(sessions, name, role, "correct horse")


def make_post(i: int, text: str | None = None, *, platform: str = "telegram", video: bool = False,
              url: str | None = None) -> Post:
    """A synthetic post number i."""
    return Post(
        platform=platform,
        external_id=f"chan/{i}",
        url=url or f"https://t.me/chan/{i}",
        text=text if text is not None else f"Новость номер {i} о школе №{i % 50} в Талгаре",
        published_at=BASE_TIME + timedelta(minutes=i),
        author="chan",
        media=(Media("video", f"https://cdn.example/{i}.mp4"),) if video else (),
    )


def make_items(sessions: sessionmaker[Session], n: int, *, district: str = "Talgar",
               severities: tuple[str, ...] = ("medium",)) -> list[int]:
    """n queue items (each with its own post and incident) created directly; returns their ids."""
    ranks = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
    ids = []
    with transaction(sessions) as session:
        for k in range(n):
            i = next(_SEQ)
            incident = Incident(district=district)
            session.add(incident)
            session.flush()
            post = PostRow(platform="test", external_id=f"q{i}", url=f"https://example.org/{i}", text=f"t{i}",
                           published_at=BASE_TIME, content_key=f"k{i}", incident_id=incident.id)
            session.add(post)
            session.flush()
            session.add(Classification(post_id=post.id or 0, model_version="m", score=0.9, flag=True))
            sev = severities[k % len(severities)]
            item = QueueItem(incident_id=incident.id or 0, post_id=post.id or 0, severity=sev,
                             severity_rank=ranks[sev], score=0.9, district=district,
                             created_at=BASE_TIME + timedelta(seconds=k))
            session.add(item)
            session.flush()
            ids.append(item.id or 0)
    return ids
