"""Posts about one event join one incident: reposts, quotes, the same video, near-duplicate text, ru <-> kk rewrites.

How a post is matched to an incident lives in `monitor.ingest.incidents.match`; this module stores the result
and splits wrong groupings.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core import tables
from monitor.core.classification import Embed
from monitor.core.config import Settings
from monitor.core.db import transaction
from monitor.core.errors import InputError, NotFound, QueueError
from monitor.core.tables import Incident, Post, QueueItem, User, utcnow
from monitor.core.vocab import DECIDER_ROLES, severity_rank
from monitor.ingest.incidents.match import find_incident, forget, remember

__all__ = ["Embed", "assign_incident", "find_incident", "incident_posts", "split_incident"]


def assign_incident(session: Session, post_row: Post, *, settings: Settings, embed: Embed | None = None) -> Incident:
    """The incident of a stored flagged post: an existing one about the same event, else a new one."""
    if post_row.incident_id is not None:
        existing = session.get(Incident, post_row.incident_id)
        if existing is not None:
            return existing
    found = find_incident(session, post_row, settings=settings, embed=embed)
    incident = session.get(Incident, found.incident_id) if found is not None else None
    if incident is not None and found is not None:
        post_row.join_reason, post_row.join_score = found.reason, found.score
        post_row.join_post_id, post_row.join_detail = found.post_id, found.explain()[:2000]
    if incident is None:
        incident = Incident(first_seen_at=post_row.published_at, last_seen_at=post_row.published_at,
                            region=post_row.region, district=post_row.district, school=post_row.school)
    else:
        incident.first_seen_at = min(incident.first_seen_at, post_row.published_at)
        incident.last_seen_at = max(incident.last_seen_at, post_row.published_at)
        incident.region = incident.region or post_row.region
        incident.district = incident.district or post_row.district
        incident.school = incident.school or post_row.school
    session.add(incident)
    session.flush()
    post_row.incident_id = incident.id
    session.add(post_row)
    remember(session, post_row, incident)
    return incident


def split_incident(
    sessions_or_session: sessionmaker[Session] | Session, user: User, queue_item_id: int, post_ids: Sequence[int]
) -> QueueItem:
    """Move some posts of a queue item's incident to a new incident with its own new queue item (audited)."""
    if isinstance(sessions_or_session, Session):
        return _split(sessions_or_session, user, queue_item_id, post_ids)
    with transaction(sessions_or_session) as session:
        return _split(session, user, queue_item_id, post_ids)


def _split(session: Session, user: User, queue_item_id: int, post_ids: Sequence[int]) -> QueueItem:
    forget(session)  # posts move between incidents: a grouping index of this transaction is stale
    if user.role not in DECIDER_ROLES:
        raise QueueError(f"user {user.name} is a {user.role}: only moderators and admins split incidents")
    item = session.get(QueueItem, queue_item_id)
    if item is None:
        raise NotFound(f"queue item {queue_item_id} not found")
    now = utcnow()
    if item.claimed_by_id not in (None, user.id) and item.lease_expires_at and item.lease_expires_at > now:
        raise QueueError(f"item {queue_item_id} is claimed by someone else")
    posts = list(session.exec(select(Post).where(Post.incident_id == item.incident_id).order_by(Post.id)))  # type: ignore[arg-type]
    wanted = set(post_ids)
    moving = [p for p in posts if p.id in wanted]
    if not wanted or len(moving) != len(wanted):
        missing = sorted(wanted - {p.id for p in moving})
        raise InputError(f"posts {missing or '[]'} are not in the incident of queue item {queue_item_id}")
    staying = [p for p in posts if p.id not in wanted]
    if not staying:
        raise InputError("a split must leave at least one post in the original incident")
    old = session.get(Incident, item.incident_id)
    assert old is not None
    lead = _lead_post(session, moving)
    new = Incident(first_seen_at=min(p.published_at for p in moving), last_seen_at=max(p.published_at for p in moving),
                   region=lead.region, district=lead.district, school=lead.school, split_from_id=old.id)
    session.add(new)
    session.flush()
    for p in moving:
        p.incident_id = new.id
        session.add(p)
    old.first_seen_at = min(p.published_at for p in staying)
    old.last_seen_at = max(p.published_at for p in staying)
    session.add(old)
    new_item = _copy_item(session, item, new, lead, len(moving))
    if item.post_id in wanted:
        item.post_id = _lead_post(session, staying).id or item.post_id
    item.post_count = len(staying)
    item.updated_at = now
    session.add(item)
    session.flush()
    from monitor.core.audit import record_audit

    record_audit(session, user.name, "incident.split", "queue_item", new_item.id, from_queue_item=item.id,
                 from_incident=old.id, incident=new.id, post_ids=sorted(wanted))
    for p in moving:
        p.join_reason = p.join_detail = None
        p.join_score = None
        p.join_post_id = None
        session.add(p)
    from monitor.ingest.incidents.corrections import record_pairs

    record_pairs(session, user.name, "split", False, [p.id or 0 for p in moving], [p.id or 0 for p in staying],
                 queue_item_id=item.id)
    return new_item


def _lead_post(session: Session, posts: Sequence[Post]) -> Post:
    """The most severe, then highest-scored post (the first one when none is scored)."""
    by_id = {p.id: p for p in posts}
    rows = session.exec(
        select(tables.Classification).where(col(tables.Classification.post_id).in_(list(by_id)))
    ).all()
    if not rows:
        return posts[0]
    top = max(rows, key=lambda c: (severity_rank(c.severity), c.score, -(c.post_id or 0)))
    return by_id[top.post_id]


def _copy_item(session: Session, item: QueueItem, incident: Incident, lead: Post, count: int) -> QueueItem:
    """A new review item for the split-off incident: the filter fields of the original, the lead post's place."""
    scored = session.exec(
        select(tables.Classification).where(tables.Classification.post_id == lead.id)
        .order_by(col(tables.Classification.id).desc())
    ).first()
    # The lead post's place when it has one (a Talgar post split off a Kaskelen school's item is not
    # at that school); the original item's otherwise.
    source: Post | QueueItem = lead if lead.region else item
    place = (source.region, source.district, source.school)
    copy = QueueItem(
        incident_id=incident.id or 0, post_id=lead.id or 0, status="new",
        severity=scored.severity if scored else item.severity,
        severity_rank=severity_rank(scored.severity) if scored else item.severity_rank,
        score=scored.score if scored else item.score, category=item.category, categories=list(item.categories),
        # A moderator's categories stay theirs on both halves.
        category_corrected_by=item.category_corrected_by, category_corrected_at=item.category_corrected_at,
        model_version=scored.model_version if scored else item.model_version,
        region=place[0], district=place[1], school=place[2],
        platform=lead.platform, language=lead.language, has_video=lead.has_video, post_count=count,
    )
    session.add(copy)
    session.flush()
    return copy


def incident_posts(session: Session, incident_id: int) -> list[Post]:
    """The posts of one incident, oldest first."""
    stmt = select(Post).where(Post.incident_id == incident_id).order_by(Post.published_at, Post.id)  # type: ignore[arg-type]
    return list(session.exec(stmt))

