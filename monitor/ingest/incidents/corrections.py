"""Moderators correct grouping: merge items (split lives in store.py); every correction is kept as labelled pairs.

A merge says "these posts are one event", a split "these are not": `grouping_correction` keeps both as
post pairs, and `monitor evaluate-incidents` scores the decider on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.db import transaction
from monitor.core.errors import InputError, NotFound, QueueError
from monitor.core.tables import GroupingCorrection, Incident, Post, QueueItem, User, utcnow
from monitor.core.vocab import DECIDER_ROLES, Status
from monitor.ingest.incidents.match import forget

MAX_PAIRS = 200  # per correction: a merge of two 100-post items keeps a sample, not 10,000 rows


def record_pairs(session: Session, actor: str, action: str, same_event: bool, a_ids: Sequence[int],
                 b_ids: Sequence[int], *, queue_item_id: int | None = None) -> int:
    """Store the post pairs one correction labels (each of `a_ids` with each of `b_ids`, capped)."""
    pairs = [(a, b) for a in a_ids for b in b_ids if a != b][:MAX_PAIRS]
    for a, b in pairs:
        session.add(GroupingCorrection(actor=actor, action=action, same_event=same_event,
                                       post_a_id=min(a, b), post_b_id=max(a, b), queue_item_id=queue_item_id))
    return len(pairs)


def correction_pairs(session: Session) -> list[tuple[Post, Post, bool]]:
    """Every labelled pair moderators made, latest label per pair, with both posts."""
    latest: dict[tuple[int, int], bool] = {}
    for row in session.exec(select(GroupingCorrection).order_by(col(GroupingCorrection.id))):
        latest[(row.post_a_id, row.post_b_id)] = row.same_event
    ids = {i for pair in latest for i in pair}
    posts = {p.id: p for p in session.exec(select(Post).where(col(Post.id).in_(ids)))} if ids else {}
    return [(posts[a], posts[b], same) for (a, b), same in latest.items() if a in posts and b in posts]


def merge_items(sessions_or_session: sessionmaker[Session] | Session, user: User, target_id: int,
                other_ids: Sequence[int]) -> QueueItem:
    """Move the posts of other items' incidents into the target item's incident; the others become 'merged'."""
    if isinstance(sessions_or_session, Session):
        return _merge(sessions_or_session, user, target_id, other_ids)
    with transaction(sessions_or_session) as session:
        return _merge(session, user, target_id, other_ids)


def _item(session: Session, item_id: int, user: User) -> QueueItem:
    stmt = select(QueueItem).where(QueueItem.id == item_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    item = session.exec(stmt).first()
    if item is None:
        raise NotFound(f"queue item {item_id} not found")
    now = utcnow()
    if item.claimed_by_id not in (None, user.id) and item.lease_expires_at and item.lease_expires_at > now:
        raise QueueError(f"item {item_id} is claimed by someone else")
    if item.status == Status.MERGED:
        raise QueueError(f"item {item_id} was already merged into item {item.merged_into_id}")
    return item


def _merge(session: Session, user: User, target_id: int, other_ids: Sequence[int]) -> QueueItem:
    from monitor.core.audit import record_audit
    from monitor.review.categories import machine_categories
    from monitor.review.queue import note_new_posts

    if user.role not in DECIDER_ROLES:
        raise QueueError(f"user {user.name} is a {user.role}: only moderators and admins merge items")
    others_wanted = [i for i in dict.fromkeys(other_ids) if i != target_id]
    if not others_wanted:
        raise InputError("name at least one other item to merge into this one")
    forget(session)  # posts move between incidents: a grouping index of this transaction is stale
    target = _item(session, target_id, user)
    others = [_item(session, i, user) for i in others_wanted]
    incident = session.get(Incident, target.incident_id)
    assert incident is not None
    kept = [p.id or 0 for p in session.exec(select(Post).where(Post.incident_id == incident.id))]
    moved_all: list[int] = []
    now = utcnow()
    for other in others:
        posts = list(session.exec(select(Post).where(Post.incident_id == other.incident_id).order_by(col(Post.id))))
        for p in posts:
            p.incident_id = incident.id
            p.join_reason, p.join_score, p.join_post_id = "merge", 1.0, target.post_id
            p.join_detail = f"merged by {user.name} from item {other.id}"
            session.add(p)
            incident.first_seen_at = min(incident.first_seen_at, p.published_at)
            incident.last_seen_at = max(incident.last_seen_at, p.published_at)
        moved = [p.id or 0 for p in posts]
        record_pairs(session, user.name, "merge", True, kept + moved_all, moved, queue_item_id=target.id)
        moved_all += moved
        if (other.severity_rank, other.score) > (target.severity_rank, target.score):
            target.severity, target.severity_rank, target.score = other.severity, other.severity_rank, other.score
        # The union, most specific first, unless a moderator corrected the target's categories.
        machine_categories(target, [*target.categories, *other.categories])
        target.has_video = target.has_video or other.has_video
        other.status, other.merged_into_id = Status.MERGED, target.id
        other.claimed_by_id = None
        other.lease_expires_at = None
        other.post_count, other.updated_at = 0, now
        session.add(other)
        record_audit(session, user.name, "incident.merge", "queue_item", other.id, into_queue_item=target.id,
                     from_incident=other.incident_id, incident=incident.id, post_ids=moved)
    session.add(incident)
    target.post_count = int(session.exec(
        select(sa.func.count()).select_from(Post).where(Post.incident_id == incident.id)).one())
    target.updated_at = now
    note_new_posts(session, target, moved_all, now=now)
    session.add(target)
    session.flush()
    record_audit(session, user.name, "incident.merge", "queue_item", target.id,
                 merged_items=[o.id for o in others], post_ids=moved_all)
    return target
