"""Retention of archived media: rows go with their posts; files past `[media] retention_days` go unless they
are evidence of an open or confirmed item; files nothing points at are deleted from the archive."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.config import Settings
from monitor.core.db import transaction
from monitor.core.tables import MediaFrame, MediaItem, MediaMatch, Post, QueueItem
from monitor.core.vocab import EVIDENCE_STATUSES
from monitor.ingest.media.archive import Archive, DiskArchive

SWEEP_GRACE_S = 3600.0  # a fetch writes its file before its row commits; never sweep a fresh file


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _delete_items(session: Session, item_ids: Sequence[int]) -> int:
    if not item_ids:
        return 0
    ids = list(item_ids)
    session.execute(sa.delete(MediaMatch).where(sa.or_(col(MediaMatch.media_item_id).in_(ids),
                                                        col(MediaMatch.other_media_item_id).in_(ids))))
    session.execute(sa.delete(MediaFrame).where(col(MediaFrame.media_item_id).in_(ids)))
    return _rowcount(session.execute(sa.delete(MediaItem).where(col(MediaItem.id).in_(ids))))


def delete_post_media(session: Session, post_ids: Sequence[int]) -> int:
    """Delete the media rows (items, frames, matches) of posts about to be deleted; files go in the sweep."""
    if not post_ids:
        return 0
    item_ids = [int(i or 0) for i in session.exec(
        select(MediaItem.id).where(col(MediaItem.post_id).in_(list(post_ids)))).all()]
    return _delete_items(session, item_ids)


def _expire(sessions: sessionmaker[Session], before: datetime) -> int:
    """Media fetched before `before` that is not evidence of a kept item: frames and files go, the row says so."""
    with transaction(sessions) as session:
        kept_posts = (select(Post.id).join(QueueItem, col(QueueItem.incident_id) == col(Post.incident_id))
                      .where(col(QueueItem.status).in_(EVIDENCE_STATUSES)))
        ids = [int(i or 0) for i in session.exec(select(MediaItem.id).where(
            col(MediaItem.status) == "fetched", col(MediaItem.fetched_at) < before,
            col(MediaItem.post_id).not_in(kept_posts))).all()]
        if not ids:
            return 0
        session.execute(sa.delete(MediaMatch).where(sa.or_(col(MediaMatch.media_item_id).in_(ids),
                                                            col(MediaMatch.other_media_item_id).in_(ids))))
        session.execute(sa.delete(MediaFrame).where(col(MediaFrame.media_item_id).in_(ids)))
        # The row stays (so the post is not fetched again) with the digest of what was archived.
        session.execute(sa.update(MediaItem).where(col(MediaItem.id).in_(ids))
                        .values(status="purged", thumb_sha256=None, frame_count=0))
        return len(ids)


def referenced(session: Session) -> set[str]:
    """Every archived digest a row still points at."""
    shas: set[str] = set()
    for sha, thumb in session.exec(select(MediaItem.sha256, MediaItem.thumb_sha256)
                                   .where(col(MediaItem.status) != "purged")).all():
        shas.update(x for x in (sha, thumb) if x)
    shas.update(x for x in session.exec(select(MediaFrame.jpeg_sha256)).all() if x)
    return shas


def sweep(sessions: sessionmaker[Session], archive: Archive, grace_s: float = SWEEP_GRACE_S) -> int:
    """Delete archived files no row points at and written more than grace_s ago (real time); how many."""
    with sessions() as session:
        keep = referenced(session)
    gone = 0
    for sha in list(archive.list(written_before=time.time() - grace_s)):
        if sha not in keep and archive.delete(sha):
            gone += 1
    return gone


def purge_media(sessions: sessionmaker[Session], settings: Settings, now: datetime,
                archive: Archive | None = None) -> dict[str, int]:
    """The media part of the daily retention run: expire old media, then sweep unreferenced files."""
    archive = archive or DiskArchive(settings.media.dir)
    expired = _expire(sessions, now - timedelta(days=settings.media.retention_days))
    return {"media_expired": expired, "media_file": sweep(sessions, archive)}
