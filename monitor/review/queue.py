"""The review queue's operations: filters, enqueue, reopen, decide, bulk, notes; each audited (claims and
leases: `monitor.review.claims`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.audit import record_audit
from monitor.core.classification import primary_category
from monitor.core.db import transaction
from monitor.core.errors import InputError, NotFound, QueueError
from monitor.core.tables import (
    Classification,
    Decision,
    Incident,
    Post,
    QueueItem,
    User,
    utcnow,
)
from monitor.core.vocab import (
    DECISIONS,
    DISMISS_REASONS,
    FINAL_STATUSES,
    PRIMARY_ORDER,
    UPDATABLE_STATUSES,
    AlertReason,
    Category,
    Status,
    severity_rank,
)
from monitor.review.claims import CLAIM_ORDER, get_for_update, locked, refuse_if_held, require_decider
from monitor.review.escalation import raise_alert
from monitor.review.search import PostTextMatches, has_words


@dataclass(frozen=True)
class ItemFields:
    """Conditions on a queue item's own columns, shared by the core filter and the web page's query."""

    severity: str | None = None
    category: str | None = None
    region: str | None = None
    district: str | None = None
    school: str | None = None
    platform: str | None = None
    language: str | None = None
    has_video: bool | None = None

    def item_fields(self) -> dict[str, Any]:
        """These conditions by name, empty strings read as "any"."""
        return {f.name: getattr(self, f.name) if getattr(self, f.name) != "" else None for f in fields(ItemFields)}


@dataclass(frozen=True)
class QueueFilter(ItemFields):
    """Conditions on the queue's denormalized columns (severity means at least); None means any."""

    status: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    updates: bool = False  # only decided items with posts that joined after the decision
    # When the lead post was published (the queue page's date filter): [published_since, published_until).
    published_since: datetime | None = None
    published_until: datetime | None = None
    # Words to find in the text of any post of the incident (full-text search).
    search: str | None = None
    assigned_to_id: int | None = None

    def apply(self, stmt: Any) -> Any:
        """Add this filter's WHERE clauses to a select over QueueItem."""
        q = QueueItem
        if self.status:
            stmt = stmt.where(col(q.status).in_(self.status))
        if self.severity is not None:  # "at least": high also lists critical items
            stmt = stmt.where(col(q.severity_rank) >= severity_rank(self.severity))
        exact = {
            "category": self.category, "region": self.region,
            "district": self.district, "school": self.school, "platform": self.platform,
            "language": self.language, "has_video": self.has_video, "assigned_to_id": self.assigned_to_id,
        }
        for column, value in exact.items():
            if value is not None:
                stmt = stmt.where(getattr(q, column) == value)
        if self.since is not None:
            stmt = stmt.where(col(q.created_at) >= self.since)
        if self.until is not None:
            stmt = stmt.where(col(q.created_at) < self.until)
        if self.updates:
            stmt = stmt.where(col(q.updates_since_decision) > 0, col(q.status).in_(UPDATABLE_STATUSES))
        if self.published_since is not None or self.published_until is not None:
            posts = select(col(Post.id))
            if self.published_since is not None:
                posts = posts.where(col(Post.published_at) >= self.published_since)
            if self.published_until is not None:
                posts = posts.where(col(Post.published_at) < self.published_until)
            stmt = stmt.where(col(q.post_id).in_(posts))
        if has_words(self.search):
            assert self.search is not None
            stmt = stmt.where(col(q.incident_id).in_(select(col(Post.incident_id)).where(PostTextMatches(self.search))))
        return stmt


def enqueue(
    session: Session, post: Post, classification: Classification, incident: Incident,
    category_thresholds: Mapping[str, float] | None = None, *,
    max_severity: str | None = None,
) -> tuple[QueueItem, bool]:
    """Put the incident of a flagged post in the queue, or raise its open item's severity/score; True if new.

    `max_severity` caps the item's severity (posts from unwatched regions with `[places] outside = "queue_low"`).
    """
    item = session.exec(locked(session, select(QueueItem).where(QueueItem.incident_id == incident.id))).first()
    severity = classification.severity
    if max_severity is not None and severity_rank(severity) > severity_rank(max_severity):
        severity = max_severity
    rank = severity_rank(severity)
    limits = category_thresholds or {}
    cats = sorted(classification.categories.items(), key=lambda kv: kv[1], reverse=True)
    present = [name for name, score in cats if score >= limits.get(name, 0.5)]
    # The item's category is the most specific one present (teacher_misconduct over the physical_violence that
    # also applies): it decides the route. The list keeps every category present, most specific first.
    primary = primary_category(classification.categories, limits)
    top = sorted(present, key=lambda c: PRIMARY_ORDER.index(Category(c)) if c in PRIMARY_ORDER else len(PRIMARY_ORDER)) \
        or ([primary] if primary else [])
    if item is None:
        item = QueueItem(
            incident_id=incident.id or 0,
            post_id=post.id or 0,
            severity=severity,
            severity_rank=rank,
            score=classification.score,
            category=primary,
            categories=top,
            model_version=classification.model_version,
            region=post.region or incident.region,
            district=post.district or incident.district,
            school=post.school or incident.school,
            platform=post.platform,
            language=post.language,
            has_video=post.has_video,
        )
        session.add(item)
        session.flush()
        record_audit(session, "system", "queue.enqueue", "queue_item", item.id, post_id=post.id,
                     score=round(classification.score, 4), severity=severity)
        return item, True
    item.post_count = session.exec(
        select(sa.func.count()).select_from(Post).where(Post.incident_id == incident.id)
    ).one()
    record_audit(session, "system", "queue.join", "queue_item", item.id, post_id=post.id,
                 reason=post.join_reason, score=post.join_score, matched_post=post.join_post_id)
    note_new_posts(session, item, [post.id or 0])
    if item.status not in FINAL_STATUSES and (rank, classification.score) > (item.severity_rank, item.score):
        item.severity, item.severity_rank, item.score = severity, rank, classification.score
    item.has_video = item.has_video or post.has_video
    item.updated_at = utcnow()
    session.add(item)
    return item, False


def note_new_posts(session: Session, item: QueueItem, post_ids: Sequence[int], *, now: datetime | None = None) -> None:
    """Posts joined a decided item: dismissed reopens as new, confirmed/escalated counts them as updates.

    Nothing is hidden in a decided item: the decision stays in the history, the item shows
    "N new posts since decision" and is listed in the Updates view, the digest and an alert.
    """
    if item.status not in DECISIONS or not post_ids:
        return
    now = now or utcnow()
    item.updates_since_decision += len(post_ids)
    item.last_update_at = now
    if item.status == Status.DISMISSED:
        item.status = Status.NEW
        record_audit(session, "system", "queue.reopen", "queue_item", item.id, reason="new post since decision",
                     previous=Status.DISMISSED.value, post_ids=list(post_ids))
    else:
        record_audit(session, "system", "queue.update", "queue_item", item.id, status=item.status,
                     post_ids=list(post_ids))
        raise_alert(session, item, AlertReason.UPDATE, at=now)
    session.add(item)


def reopen(sessions: sessionmaker[Session], user: User, item_id: int, *, note: str | None = None,
           now: datetime | None = None) -> QueueItem:
    """Put a decided (confirmed, dismissed or escalated) item back in the open queue as new (audited)."""
    require_decider(user)
    now = now or utcnow()
    with transaction(sessions) as session:
        item = get_for_update(session, item_id)
        if item.status not in DECISIONS:
            raise QueueError(f"item {item_id} is {item.status}, not decided: nothing to reopen")
        previous = item.status
        item.status = "new"
        item.claimed_by_id = None
        item.lease_expires_at = None
        item.updated_at = now
        session.add(item)
        record_audit(session, user.name, "queue.reopen", "queue_item", item.id, previous=previous,
                     note=(note or "").strip() or None)
        return item


def _check_decision(status: str, reason: str | None) -> None:
    if status not in DECISIONS:
        raise InputError(f"unknown decision {status!r}: expected one of {', '.join(DECISIONS)}")
    if status == Status.DISMISSED and reason not in DISMISS_REASONS:
        raise InputError(f"dismissing needs a reason, one of: {', '.join(DISMISS_REASONS)}")
    if status != Status.DISMISSED and reason is not None and reason not in DISMISS_REASONS:
        raise InputError(f"unknown reason {reason!r}")


def _decide_in(
    session: Session, user: User, item_id: int, status: str, reason: str | None, note: str | None, now: datetime
) -> Decision:
    item = get_for_update(session, item_id)
    if item.status in FINAL_STATUSES:
        raise QueueError(f"item {item_id} is already {item.status}")
    refuse_if_held(session, item, user, now)
    previous = item.status
    item.status = status
    item.decided_at = now
    item.updates_since_decision = 0
    item.claimed_by_id = None
    item.lease_expires_at = None
    item.updated_at = now
    session.add(item)
    decision = Decision(
        queue_item_id=item.id or 0, user_id=user.id or 0, status=status, reason=reason,
        note=note or None, model_version=item.model_version, decided_at=now,
    )
    session.add(decision)
    record_audit(session, user.name, "queue.decide", "queue_item", item.id,
                 status=status, previous=previous, reason=reason, note=note or None)
    if status == Status.ESCALATED:
        raise_alert(session, item, AlertReason.ESCALATED)
    return decision


def decide(
    sessions: sessionmaker[Session], user: User, item_id: int, status: str, *,
    reason: str | None = None, note: str | None = None, now: datetime | None = None,
) -> Decision:
    """Confirm, dismiss (with a reason) or escalate an item; refused when another moderator holds it."""
    require_decider(user)
    _check_decision(status, reason)
    now = now or utcnow()
    with transaction(sessions) as session:
        return _decide_in(session, user, item_id, status, reason, note, now)


@dataclass
class BulkResult:
    """Which items a bulk decision decided and why the others were refused."""

    decided: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)


def bulk_decide(
    sessions: sessionmaker[Session], user: User, item_ids: Sequence[int], status: str, *,
    reason: str | None = None, note: str | None = None, now: datetime | None = None,
) -> BulkResult:
    """Decide many items, each in its own transaction; refusals are collected, not raised."""
    require_decider(user)
    _check_decision(status, reason)
    result = BulkResult()
    for item_id in dict.fromkeys(item_ids):
        try:
            with transaction(sessions) as session:
                _decide_in(session, user, item_id, status, reason, note, now or utcnow())
            result.decided.append(item_id)
        except (QueueError, NotFound) as e:
            result.refused[item_id] = str(e)
    return result


def add_note(sessions: sessionmaker[Session], user: User, item_id: int, note: str) -> None:
    """Attach a moderator's note to an item (kept in its audit history)."""
    require_decider(user)
    note = note.strip()
    if not note:
        raise InputError("note is empty")
    with transaction(sessions) as session:
        item = get_for_update(session, item_id)
        record_audit(session, user.name, "queue.note", "queue_item", item.id, note=note[:5000])


def list_items(
    session: Session, filters: QueueFilter | None = None, *, limit: int = 50, offset: int = 0
) -> list[QueueItem]:
    """Items matching the filter, most severe and oldest first."""
    stmt = select(QueueItem)
    if filters is not None:
        stmt = filters.apply(stmt)
    stmt = stmt.order_by(*CLAIM_ORDER)
    return list(session.exec(stmt.limit(limit).offset(offset)))


def count_items(session: Session, filters: QueueFilter | None = None) -> int:
    """How many items match the filter."""
    stmt = select(sa.func.count()).select_from(QueueItem)
    if filters is not None:
        stmt = filters.apply(stmt)
    return int(session.exec(stmt).one())
