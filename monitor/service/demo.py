"""`monitor demo`: a clearly marked synthetic dataset run through the real pipeline, and its removal."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core import tables
from monitor.core.audit import record_audit
from monitor.core.db import transaction
from monitor.core.errors import InputError, QueueError
from monitor.core.posts import Post, post_from_record
from monitor.core.tables import utcnow
from monitor.core.vocab import DismissReason, Status
from monitor.ingest.pipeline import IngestResult, Pipeline
from monitor.review.queue import decide
from monitor.review.users import create_user

DEMO_FILE = Path(__file__).with_name("demo_posts.jsonl")
DEMO_PREFIX = "demo-"  # every demo post's external_id starts with it; the UI marks those items DEMO
DEMO_USER = "demo"


def demo_posts(now: datetime | None = None, path: Path = DEMO_FILE) -> list[Post]:
    """The demo posts, published `hours_ago` before now so the queue and dashboard look current."""
    now = now or utcnow()
    posts = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            hours = float(record.pop("hours_ago"))
            record["published_at"] = (now - timedelta(hours=hours)).isoformat()
            post = post_from_record(record)
        except (ValueError, KeyError) as e:
            raise InputError(f"{path}:{line_no}: {e}") from None
        if not post.external_id.startswith(DEMO_PREFIX):
            raise InputError(f"{path}:{line_no}: demo external_id must start with {DEMO_PREFIX!r}")
        posts.append(post)
    return posts


@dataclass(frozen=True)
class DemoResult:
    """What `monitor demo` did."""

    ingest: IngestResult
    user: str
    password: str | None
    decided: int


def load_demo(pipeline: Pipeline, sessions: sessionmaker[Session], *, user: str = DEMO_USER) -> DemoResult:
    """Ingest the demo posts, create the demo moderator (password returned once) and decide a few items."""
    result = pipeline.ingest(demo_posts())
    password = None
    with sessions() as session:
        moderator = session.exec(select(tables.User).where(tables.User.name == user)).first()
    if moderator is None:
        password = secrets.token_urlsafe(12)
        moderator = create_user(sessions, user, "moderator", password)
    decided = 0
    if password is not None:
        # A few decisions so that the dashboard's precision and throughput are not empty.
        with sessions() as session:
            items = list(session.exec(select(tables.QueueItem.id).join(
                tables.Post, col(tables.Post.id) == tables.QueueItem.post_id).where(
                col(tables.Post.external_id).startswith(DEMO_PREFIX), tables.QueueItem.status == "new")
                .order_by(col(tables.QueueItem.created_at)).limit(3)))
        for item_id, (status, reason) in zip(items, ((Status.CONFIRMED, None), (Status.CONFIRMED, None),
                                                     (Status.DISMISSED, DismissReason.OLD_NEWS)), strict=False):
            try:
                decide(sessions, moderator, item_id or 0, status, reason=reason, note="demo decision")
                decided += 1
            except QueueError:
                pass
    with transaction(sessions) as session:
        record_audit(session, "system", "demo.load", "post", None, new=result.new, enqueued=result.enqueued)
    return DemoResult(ingest=result, user=user, password=password, decided=decided)


def remove_demo(sessions: sessionmaker[Session], *, user: str = DEMO_USER) -> int:
    """Delete every demo post with its verdicts, incidents, queue items and decisions; the demo user too.

    Audit events stay (the audit log is append-only). Returns the number of posts removed."""
    with transaction(sessions) as session:
        rows = session.exec(select(tables.Post.id, tables.Post.incident_id, tables.Post.snapshot_id)
                            .where(col(tables.Post.external_id).startswith(DEMO_PREFIX))).all()
        post_ids = [r[0] for r in rows]
        incident_ids = {r[1] for r in rows if r[1] is not None}
        snapshot_ids = {r[2] for r in rows if r[2] is not None}
        rehome: list[int] = []
        if post_ids:
            # Real posts that joined a demo incident get incidents and queue items of their own.
            found = session.exec(select(col(tables.Post.id)).where(
                col(tables.Post.incident_id).in_(incident_ids),
                sa.not_(col(tables.Post.external_id).startswith(DEMO_PREFIX))))
            rehome = [i for i in found if i is not None]
            if rehome:
                session.execute(sa.update(tables.Post).where(col(tables.Post.id).in_(rehome)).values(
                    incident_id=None, join_reason=None, join_score=None, join_post_id=None, join_detail=None))
            item_ids = list(session.exec(select(tables.QueueItem.id).where(sa.or_(
                col(tables.QueueItem.post_id).in_(post_ids), col(tables.QueueItem.incident_id).in_(incident_ids)))))
            for table in (tables.Alert, tables.Decision):
                session.execute(sa.delete(table).where(col(table.queue_item_id).in_(item_ids)))
            session.execute(sa.delete(tables.GroupingCorrection).where(sa.or_(
                col(tables.GroupingCorrection.queue_item_id).in_(item_ids),
                col(tables.GroupingCorrection.post_a_id).in_(post_ids),
                col(tables.GroupingCorrection.post_b_id).in_(post_ids))))
            session.execute(sa.update(tables.QueueItem).where(col(tables.QueueItem.merged_into_id).in_(item_ids))
                            .values(merged_into_id=None))
            session.execute(sa.delete(tables.QueueItem).where(col(tables.QueueItem.id).in_(item_ids)))
            session.execute(sa.delete(tables.Classification).where(col(tables.Classification.post_id).in_(post_ids)))
            session.execute(sa.update(tables.Post).where(col(tables.Post.duplicate_of_id).in_(post_ids))
                            .values(duplicate_of_id=None))
            session.execute(sa.delete(tables.Post).where(col(tables.Post.id).in_(post_ids)))
            still_used = set(session.exec(select(tables.Post.incident_id).where(
                col(tables.Post.incident_id).in_(incident_ids))))
            orphans = incident_ids - still_used
            session.execute(sa.update(tables.Incident).where(col(tables.Incident.split_from_id).in_(orphans))
                            .values(split_from_id=None))
            session.execute(sa.delete(tables.Incident).where(col(tables.Incident.id).in_(orphans)))
            kept = set(session.exec(select(tables.Post.snapshot_id).where(
                col(tables.Post.snapshot_id).in_(snapshot_ids))))
            session.execute(sa.delete(tables.Snapshot).where(col(tables.Snapshot.id).in_(snapshot_ids - kept)))
        rehomed = _rehome(session, rehome)
        account = session.exec(select(tables.User).where(tables.User.name == user)).first()
        if account is not None:
            session.execute(sa.delete(tables.ApiToken).where(col(tables.ApiToken.user_id) == account.id))
            if session.exec(select(tables.Decision.id).where(tables.Decision.user_id == account.id)).first():
                account.is_active = False  # decided real items too: keep the row for their history
                session.add(account)
            else:
                session.delete(account)
        record_audit(session, "system", "demo.remove", "post", None, posts=len(post_ids), rehomed=rehomed)
        return len(post_ids)


def _rehome(session: Session, post_ids: list[int]) -> list[int]:
    """Each real post an incident of its own and, when its latest verdict flags it, a queue item."""
    from monitor.review.queue import enqueue

    rehomed = []
    for post_id in post_ids:
        post = session.get(tables.Post, post_id)
        if post is None:
            continue
        incident = tables.Incident(first_seen_at=post.published_at, last_seen_at=post.published_at,
                                   region=post.region, district=post.district, school=post.school)
        session.add(incident)
        session.flush()
        post.incident_id = incident.id
        session.add(post)
        verdict = session.exec(select(tables.Classification).where(tables.Classification.post_id == post_id)
                               .order_by(col(tables.Classification.id).desc())).first()
        if verdict is not None and verdict.flag:
            item, _ = enqueue(session, post, verdict, incident)
            rehomed.append(item.id or 0)
    return rehomed
