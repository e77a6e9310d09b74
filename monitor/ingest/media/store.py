"""The media tables: which media are due for fetching, recording a fetch or its failure, loading frames."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from monitor.core.config import MediaSettings
from monitor.core.tables import MediaFrame, MediaItem, Post, utcnow
from monitor.ingest.media.hashing import Hashed
from monitor.ingest.media.match import FrameHashes

KINDS = {"photo": "photo", "video": "video"}


def url_key(url: str) -> str:
    """The sha256 of a media URL (the unique key of a post's media item)."""
    return hashlib.sha256(url.strip().encode()).hexdigest()


def media_entries(media: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(kind, url) for each photo, video and thumbnail of a post's media list, each URL once."""
    out: dict[str, str] = {}
    for m in media or []:
        if not isinstance(m, dict):
            continue
        kind = KINDS.get(str(m.get("type")))
        url = m.get("url")
        if kind and isinstance(url, str) and url.startswith(("http://", "https://")):
            out.setdefault(url, kind)
        thumb = m.get("thumbnail_url")
        if isinstance(thumb, str) and thumb.startswith(("http://", "https://")):
            out.setdefault(thumb, "thumbnail")
    return [(kind, url) for url, kind in out.items()]


def discover(session: Session, settings: MediaSettings, limit: int) -> int:
    """Create media items for stored posts with media that have none yet; returns how many were made."""
    wanted: sa.ColumnElement[bool] = col(Post.has_education_context).is_(True)
    if settings.all_videos:  # reposted fight videos carry captions that name no school ("жесть 😳")
        wanted = sa.or_(wanted, col(Post.has_video).is_(True))
    stmt = (
        select(Post.id, Post.media)
        .where(sa.cast(col(Post.media), sa.Text) != "[]", wanted,
               col(Post.id).not_in(select(MediaItem.post_id)))
        .order_by(col(Post.id).desc())
        .limit(limit)
    )
    rows = []
    for post_id, media in session.exec(stmt).all():
        for position, (kind, url) in enumerate(media_entries(media)):
            rows.append({"post_id": post_id, "position": position, "kind": kind, "url": url,
                         "url_key": url_key(url), "status": "pending", "attempts": 0, "size": 0,
                         "frame_count": 0, "created_at": utcnow()})
    if rows:
        session.execute(sa.insert(MediaItem.__table__), rows)  # type: ignore[attr-defined]
    return len(rows)


def due(session: Session, settings: MediaSettings, now: datetime, limit: int) -> list[MediaItem]:
    """Items to fetch now: new ones, failed ones whose backoff has passed, and fetched ones due a re-check."""
    first = select(MediaItem).where(
        col(MediaItem.status).in_(("pending", "failed")),
        sa.or_(col(MediaItem.next_attempt_at).is_(None), col(MediaItem.next_attempt_at) <= now),
        col(MediaItem.attempts) < settings.max_attempts,
    ).order_by(col(MediaItem.attempts), col(MediaItem.id)).limit(limit)
    items = list(session.exec(first))
    if len(items) < limit and settings.recheck_days > 0:
        recheck = select(MediaItem).where(
            col(MediaItem.status) == "fetched",
            col(MediaItem.deleted_at_source_at).is_(None),
            col(MediaItem.checked_at) < now - timedelta(seconds=settings.recheck_interval_s),
            col(MediaItem.fetched_at) > now - timedelta(days=settings.recheck_days),
        ).order_by(col(MediaItem.checked_at)).limit(limit - len(items))
        items += list(session.exec(recheck))
    return items


def backoff(settings: MediaSettings, attempts: int) -> timedelta:
    """Wait before the next attempt after `attempts` failures: exponential, capped."""
    return timedelta(seconds=min(settings.retry_max_s, settings.retry_base_s * 2 ** max(0, attempts - 1)))


def record_failure(session: Session, item_id: int, settings: MediaSettings, now: datetime, error: str, *,
                   retry: bool, gone: bool) -> MediaItem | None:
    """Store a failed fetch: retried with backoff, given up, refused, or deleted at source (404/410)."""
    item = session.get(MediaItem, item_id)
    if item is None:
        return None
    item.last_error = error[:2000]
    if item.status == "fetched":  # a re-check of an archived file: only a 404/410 changes anything
        item.checked_at = now
        if gone:
            item.deleted_at_source_at = now
    elif gone:
        item.status, item.deleted_at_source_at, item.next_attempt_at = "gone", now, None
        item.attempts += 1
    elif not retry:
        item.status, item.next_attempt_at = "refused", None
        item.attempts += 1
    else:
        item.attempts += 1
        item.status = "failed"
        item.next_attempt_at = now + backoff(settings, item.attempts) if item.attempts < settings.max_attempts else None
    session.add(item)
    return item


def record_fetch(session: Session, item_id: int, now: datetime, *, sha256: str, content_type: str, size: int,
                 hashed: Hashed | None, frame_jpegs: Sequence[str | None], error: str | None = None) -> bool:
    """Store a fetched, archived and hashed file with its frames; False when another run stored it first."""
    item = session.get(MediaItem, item_id)
    if item is None or item.status == "fetched":
        return False
    item.status, item.sha256, item.content_type, item.size = "fetched", sha256, content_type[:200], size
    item.fetched_at = item.checked_at = now
    item.next_attempt_at, item.last_error = None, error
    item.attempts += 1
    if hashed is not None:
        item.width, item.height, item.duration_s = hashed.width, hashed.height, hashed.duration_s
        item.frame_count = len(hashed.frames)
        item.thumb_sha256 = frame_jpegs[0] if frame_jpegs else None
        for frame, jpeg_sha in zip(hashed.frames, frame_jpegs, strict=True):
            session.add(MediaFrame(media_item_id=item_id, idx=frame.idx, t_s=frame.t_s, pdq=frame.pdq,
                                   pdq_crop=frame.pdq_crop, quality=frame.quality, jpeg_sha256=jpeg_sha))
    session.add(item)
    return True


def frames_of(session: Session, item_ids: Sequence[int]) -> dict[int, list[FrameHashes]]:
    """The keyframe hashes of some media items, by item id, in frame order."""
    out: dict[int, list[FrameHashes]] = {i: [] for i in item_ids}
    if not item_ids:
        return out
    stmt = select(MediaFrame).where(col(MediaFrame.media_item_id).in_(list(item_ids))).order_by(
        col(MediaFrame.media_item_id), col(MediaFrame.idx))
    for f in session.exec(stmt):
        hashes = (f.pdq,) if f.pdq_crop is None else (f.pdq, f.pdq_crop)
        out[f.media_item_id].append(FrameHashes(f.idx, hashes, f.quality, f.jpeg_sha256))
    return out
