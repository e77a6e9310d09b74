"""Telegram comments of flagged posts: fetch the public discussion under each, store comments as linked posts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core import tables
from monitor.ingest.http import HttpClient
from monitor.ingest.scrape import Ingest
from scrapers.telegram_comments import collect, parent_of


@dataclass(frozen=True, slots=True)
class CommentsRun:
    """What one pass over flagged posts did."""

    parents: int
    comments_new: int
    without_discussion: int
    errors: tuple[str, ...]


def flagged_channel_posts(sessions: sessionmaker[Session], *, days: int = 7, max_posts: int = 50) -> list[str]:
    """'channel/123' of flagged Telegram channel posts of the last `days`, newest first (comments excluded)."""
    since = datetime.now(UTC) - timedelta(days=days)
    flagged = select(tables.Classification.post_id).where(col(tables.Classification.flag).is_(True))
    with sessions() as session:
        rows = session.exec(
            select(tables.Post.external_id).where(tables.Post.platform == "telegram",
                                                  col(tables.Post.id).in_(flagged),
                                                  col(tables.Post.published_at) >= since)
            .order_by(col(tables.Post.published_at).desc())
        ).all()
    # A comment's own id is 'channel/123/c456': only channel posts have comments under them.
    return [r for r in rows if parent_of(f"https://t.me/{r}") == r][:max_posts]


def collect_comments(sessions: sessionmaker[Session], http: HttpClient, pipeline: Ingest, *, days: int = 7,
                     max_posts: int = 50, limit: int = 50) -> CommentsRun:
    """Fetch and store the public comments of recent flagged channel posts; each parent is its own batch."""
    parents = flagged_channel_posts(sessions, days=days, max_posts=max_posts)
    new = without = 0
    errors: list[str] = []
    for parent, found in collect(parents, http, limit=limit):
        if isinstance(found, str):
            if found.startswith("none: "):
                without += 1
            else:
                errors.append(f"{parent}: {found.removeprefix('error: ')}")
            continue
        if found:
            # Parents were flagged, so they were read as school posts: their comments are too.
            linked = [dataclasses.replace(p, extras={**p.extras, "parent": {**p.extras["parent"],
                                                                           "education_context": True}})
                      for p in found]
            new += pipeline.ingest(linked).new
    return CommentsRun(len(parents), new, without, tuple(errors))
