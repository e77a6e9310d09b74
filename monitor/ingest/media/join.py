"""A confirmed media match joins a post to an incident: the existing incident and queue functions do the storing.

A post without an incident whose photo or video matches media of a post in an incident with a live
queue item (new, in review, escalated or confirmed) joins that incident, even when its text was never
flagged: that is how an empty-caption repost of a confirmed fight video reaches its item. Posts
already in different incidents are not merged (the match is recorded and shown); a dismissed item
takes no new posts.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from monitor.core.audit import record_audit
from monitor.core.tables import Classification, Incident, MediaItem, MediaMatch, Post, QueueItem, utcnow
from monitor.core.vocab import EVIDENCE_STATUSES
from monitor.review.queue import enqueue

JOINABLE = EVIDENCE_STATUSES  # media may join any item not dismissed
MEDIA_MODEL = "media-match"


@dataclass(frozen=True, slots=True)
class Joined:
    """A post that joined an incident's item because of its media."""

    post_id: int
    queue_item_id: int
    incident_id: int
    reason: str


def _live_item(session: Session, incident_id: int | None) -> QueueItem | None:
    if incident_id is None:
        return None
    item = session.exec(select(QueueItem).where(QueueItem.incident_id == incident_id)).first()
    return item if item is not None and item.status in JOINABLE else None


def _classification(session: Session, post: Post) -> Classification:
    """The post's latest verdict; for a never-classified post an unsaved zero verdict (the item keeps its own)."""
    row = session.exec(select(Classification).where(Classification.post_id == post.id)
                       .order_by(col(Classification.created_at).desc())).first()
    return row or Classification(post_id=post.id or 0, model_version=MEDIA_MODEL, score=0.0, flag=False,
                                 severity="none", categories={})


def apply_match(session: Session, match: MediaMatch) -> Joined | None:
    """Join the post of one side of a match to the other side's incident when exactly one side has a live item."""
    if match.joined_incident_id is not None:
        return None
    a = session.get(MediaItem, match.media_item_id)
    b = session.get(MediaItem, match.other_media_item_id)
    if a is None or b is None:
        return None
    pa, pb = session.get(Post, a.post_id), session.get(Post, b.post_id)
    if pa is None or pb is None or pa.id == pb.id:
        return None
    for joining, into, mine, theirs in ((pa, pb, a, b), (pb, pa, b, a)):
        if joining.incident_id is not None:
            continue
        item = _live_item(session, into.incident_id)
        if item is None:
            continue
        incident = session.get(Incident, into.incident_id)
        assert incident is not None
        joining.incident_id = incident.id
        session.add(joining)
        incident.first_seen_at = min(incident.first_seen_at, joining.published_at)
        incident.last_seen_at = max(incident.last_seen_at, joining.published_at)
        session.add(incident)
        session.flush()
        enqueue(session, joining, _classification(session, joining), incident)
        item.updated_at = utcnow()
        session.add(item)
        record_audit(session, "system", "media.join", "queue_item", item.id, post_id=joining.id,
                     reason=match.reason, media_item_id=mine.id, matched_media_item_id=theirs.id,
                     share=round(match.share, 3), inliers=match.inliers)
        match.joined_incident_id = incident.id
        session.add(match)
        return Joined(joining.id or 0, item.id or 0, incident.id or 0, match.reason)
    return None


def pending_matches(session: Session, limit: int = 500) -> list[MediaMatch]:
    """Unjoined matches where exactly one side's post is in an incident (it may have entered one since)."""
    ia, ib = aliased(MediaItem), aliased(MediaItem)
    pa, pb = aliased(Post), aliased(Post)
    stmt = (
        select(MediaMatch)
        .join(ia, ia.id == MediaMatch.media_item_id)  # type: ignore[arg-type]
        .join(ib, ib.id == MediaMatch.other_media_item_id)  # type: ignore[arg-type]
        .join(pa, pa.id == ia.post_id)  # type: ignore[arg-type]
        .join(pb, pb.id == ib.post_id)  # type: ignore[arg-type]
        .where(col(MediaMatch.joined_incident_id).is_(None),
               sa.or_(sa.and_(col(pa.incident_id).is_(None), col(pb.incident_id).is_not(None)),
                      sa.and_(col(pa.incident_id).is_not(None), col(pb.incident_id).is_(None))))
        .order_by(col(MediaMatch.id))
    )
    return list(session.exec(stmt.limit(limit)))
