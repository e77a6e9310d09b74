"""Retention: dismissed and old confirmed items purged with their posts; open items, evidence and audit kept."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from monitor.core.config import RetentionSettings, Settings
from monitor.core.db import transaction
from monitor.core.tables import (
    Alert,
    AuditEvent,
    Classification,
    Decision,
    Incident,
    JobRun,
    Post,
    QueueItem,
    Snapshot,
)
from monitor.core.vocab import DECISIONS
from monitor.service.retention import purge
from tests.helpers import make_user
from tests.service.seed import add_item

NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def count(sessions: sessionmaker[Session], table: type) -> int:
    with sessions() as session:
        return int(session.exec(select(sa.func.count()).select_from(table)).one())


def post_of(sessions: sessionmaker[Session], item_id: int) -> Post:
    with sessions() as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        post = session.get(Post, item.post_id)
        assert post is not None
        return post


def attach(sessions: sessionmaker[Session], item_id: int, fetched_at: datetime) -> int:
    """Give the item's post a classification, a decision, an alert and a raw snapshot; returns the snapshot id."""
    user = make_user(sessions, f"mod{item_id}")
    with transaction(sessions) as session:
        item = session.get(QueueItem, item_id)
        assert item is not None
        snap = Snapshot(
            sha256=f"{item_id:064d}",
            url="https://t.me/s/chan",
            fetched_at=fetched_at,
            body_z=zlib.compress(b"<html>synthetic</html>"),
            size=22,
        )
        session.add(snap)
        session.flush()
        post = session.get(Post, item.post_id)
        assert post is not None
        post.snapshot_id = snap.id
        session.add(Classification(post_id=post.id or 0, model_version="m", score=0.9, flag=True))
        if item.status in DECISIONS:  # an undecided item has no decision row (a CHECK refuses one)
            session.add(Decision(queue_item_id=item_id, user_id=user.id or 0, status=item.status))
        session.add(Alert(queue_item_id=item_id, reason="critical", sent_at=item.decided_at))
        session.add(
            AuditEvent(actor="mod", action="queue.decide", entity_type="queue_item", entity_id=item_id)
        )
        return snap.id or 0


def test_purge_applies_each_rule_and_keeps_what_must_stay(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    settings = settings.model_copy(
        update={
            "retention": RetentionSettings(
                dismissed_days=90, confirmed_days=365, unflagged_days=30, snapshot_days=180, job_run_days=30
            )
        }
    )
    old_dismissed = add_item(
        sessions, status="dismissed", created_at=NOW - 100 * DAY, decided_at=NOW - 91 * DAY
    )
    new_dismissed = add_item(
        sessions, status="dismissed", created_at=NOW - 100 * DAY, decided_at=NOW - 89 * DAY
    )
    old_confirmed = add_item(
        sessions, status="confirmed", created_at=NOW - 400 * DAY, decided_at=NOW - 366 * DAY
    )
    kept_confirmed = add_item(
        sessions, status="confirmed", created_at=NOW - 300 * DAY, decided_at=NOW - 200 * DAY
    )
    ancient_open = add_item(sessions, status="new", created_at=NOW - 999 * DAY)
    escalated = add_item(sessions, status="escalated", created_at=NOW - 999 * DAY, decided_at=NOW - 998 * DAY)
    snaps = {
        i: attach(sessions, i, NOW - 250 * DAY)
        for i in (old_dismissed, new_dismissed, old_confirmed, kept_confirmed, ancient_open, escalated)
    }
    old_dismissed_post = post_of(sessions, old_dismissed)
    kept_post = post_of(sessions, kept_confirmed)
    with transaction(sessions) as session:
        # A kept post marked as a duplicate of a purged one keeps existing; the link goes.
        dup = session.get(Post, kept_post.id)
        assert dup is not None
        dup.duplicate_of_id = old_dismissed_post.id
        session.add(
            Post(
                platform="rss",
                external_id="old",
                url="https://news.example.kz/a",
                text="x",
                published_at=NOW - 40 * DAY,
                collected_at=NOW - 31 * DAY,
                content_key="a",
            )
        )
        session.add(
            Post(
                platform="rss",
                external_id="new",
                url="https://news.example.kz/b",
                text="y",
                published_at=NOW - 2 * DAY,
                collected_at=NOW - 2 * DAY,
                content_key="b",
            )
        )
        session.add(
            Snapshot(sha256="f" * 64, url="https://news.example.kz/", fetched_at=NOW - 181 * DAY, body_z=b"z")
        )
        session.add(JobRun(job="retention", slot_at=NOW - 40 * DAY, holder="h", started_at=NOW - 40 * DAY))
        session.add(JobRun(job="retention", slot_at=NOW - DAY, holder="h", started_at=NOW - DAY))
    audit_before = count(sessions, AuditEvent)

    report = purge(sessions, settings, NOW)

    with sessions() as session:
        items = {i.id: i.status for i in session.exec(select(QueueItem)).all()}
        assert set(items) == {new_dismissed, kept_confirmed, ancient_open, escalated}
        assert session.get(Post, old_dismissed_post.id) is None
        assert session.exec(select(Post.external_id).where(Post.platform == "rss")).all() == ["new"]
        assert session.get(Post, kept_post.id).duplicate_of_id is None  # type: ignore[union-attr]
        bodies = {s.id: s.body_z is not None for s in session.exec(select(Snapshot)).all()}
        # Evidence of kept confirmed/open items keeps its body; the dismissed-but-young item's body goes;
        # snapshots of purged posts and unreferenced old ones are deleted.
        assert bodies == {
            snaps[new_dismissed]: False,
            snaps[kept_confirmed]: True,
            snaps[ancient_open]: True,
            snaps[escalated]: True,
        }
        assert session.exec(select(sa.func.count()).select_from(Incident)).one() == 4
        assert session.exec(select(sa.func.count()).select_from(Decision)).one() == 3  # the open item never had one
        assert session.exec(select(sa.func.count()).select_from(Classification)).one() == 4
        assert [j.started_at for j in session.exec(select(JobRun)).all()] == [NOW - DAY]
    assert report.counts["queue_item_dismissed"] == 1 and report.counts["queue_item_confirmed"] == 1
    assert count(sessions, AuditEvent) == audit_before + 2  # nothing removed; the purges themselves logged

    assert purge(sessions, settings, NOW).counts.get("post", 0) == 0  # idempotent


def test_audit_events_cannot_be_deleted(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        session.add(AuditEvent(actor="mod", action="queue.decide", entity_type="queue_item", entity_id=1))
    with pytest.raises(sa.exc.DatabaseError), transaction(sessions) as session:
        session.execute(sa.delete(AuditEvent))
    assert count(sessions, AuditEvent) == 1


def test_a_post_leading_a_kept_item_survives_its_old_incidents_purge(
    settings: Settings, sessions: sessionmaker[Session]
) -> None:
    purged = add_item(sessions, status="dismissed", created_at=NOW - 100 * DAY, decided_at=NOW - 91 * DAY)
    kept = add_item(sessions, status="new", created_at=NOW - 100 * DAY)
    moved = post_of(sessions, purged)
    with transaction(sessions) as session:  # as after an incident split moved the lead post
        item = session.get(QueueItem, kept)
        assert item is not None
        item.post_id = moved.id or 0
        post = session.get(Post, moved.id)
        assert post is not None
        post.collected_at = NOW - 100 * DAY

    purge(sessions, settings, NOW)

    with sessions() as session:
        assert session.get(QueueItem, purged) is None
        survivor = session.get(Post, moved.id)
        assert survivor is not None and survivor.incident_id is None
        assert session.get(QueueItem, kept) is not None
