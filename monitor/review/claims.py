"""Who holds a queue item: claims and their leases (claim, claim next, release, expiry), the row lock every change
of an item takes, and the checks that refuse a change while another moderator holds it; each change audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.audit import record_audit
from monitor.core.db import transaction
from monitor.core.errors import NotFound, QueueError
from monitor.core.tables import AuditEvent, QueueItem, User, UTCDateTime, table_of, utcnow
from monitor.core.vocab import DECIDER_ROLES, FINAL_STATUSES, OPEN_STATUSES, Role, Status

if TYPE_CHECKING:
    from monitor.review.queue import QueueFilter

DEFAULT_LEASE = timedelta(minutes=15)


# Most severe first, then oldest: the order claim_next takes and the CLI lists.
CLAIM_ORDER = (col(QueueItem.severity_rank).desc(), col(QueueItem.created_at), col(QueueItem.id))


def locked(session: Session, stmt: Any, *, skip_locked: bool = False) -> Any:
    """`stmt` taking row locks on PostgreSQL (FOR UPDATE, optionally SKIP LOCKED); unchanged on SQLite."""
    # SQLite has no row locks: every transaction there is BEGIN IMMEDIATE (see db.py), which
    # serializes writers and gives the same guarantee.
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=skip_locked)
    return stmt


def require_decider(user: User) -> None:
    """QueueError unless `user` may decide items (vocab.DECIDER_ROLES)."""
    if user.role not in DECIDER_ROLES:
        raise QueueError(f"user {user.name} is a {user.role}: only moderators and admins review items")


def _holder_name(session: Session, item: QueueItem) -> str:
    holder = session.get(User, item.claimed_by_id) if item.claimed_by_id else None
    return holder.name if holder else f"user #{item.claimed_by_id}"


def _held_by_other(item: QueueItem, user: User, now: datetime) -> bool:
    return (
        item.claimed_by_id is not None
        and item.claimed_by_id != user.id
        and item.lease_expires_at is not None
        and item.lease_expires_at > now
    )


def refuse_if_held(session: Session, item: QueueItem, user: User, now: datetime) -> None:
    """QueueError when another moderator's lease on `item` is still running."""
    if _held_by_other(item, user, now):
        until = f"{item.lease_expires_at:%H:%M} UTC" if item.lease_expires_at else "?"
        raise QueueError(f"item {item.id} is claimed by {_holder_name(session, item)} until {until}")


def get_for_update(session: Session, item_id: int) -> QueueItem:
    """The item, row-locked on PostgreSQL for the rest of the transaction; NotFound when there is none."""
    item: QueueItem | None = session.exec(locked(session, select(QueueItem).where(col(QueueItem.id) == item_id))).first()
    if item is None:
        raise NotFound(f"queue item {item_id} does not exist")
    return item


def _claimable(now: datetime) -> Any:
    return sa.or_(
        col(QueueItem.status) == Status.NEW,
        sa.and_(col(QueueItem.status) == Status.IN_REVIEW, col(QueueItem.lease_expires_at) < now),
    )


def claim_next(
    sessions: sessionmaker[Session],
    user: User,
    *,
    filters: QueueFilter | None = None,
    lease: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
    order: tuple[Any, ...] | None = None,
) -> QueueItem | None:
    """Claim the most severe, then oldest, unclaimed item matching the filter; None when none is left.

    `order` replaces that order: the web passes the queue page's sort, so the item claimed is the one
    shown first."""
    require_decider(user)
    now = now or utcnow()
    with transaction(sessions) as session:
        stmt = select(QueueItem).where(_claimable(now))
        if filters is not None:
            stmt = filters.apply(stmt)
        stmt = stmt.order_by(*(order or CLAIM_ORDER)).limit(1)
        if session.get_bind().dialect.name == "postgresql":
            return _claim_next_pg(session, stmt, user, now, lease)
        item = session.exec(stmt).first()
        if item is None:
            return None
        _take(session, item, user, now, lease)
        return item


def _claim_next_pg(session: Session, pick: Any, user: User, now: datetime, lease: timedelta) -> QueueItem | None:
    """Pick, claim and audit in one statement: claim_next is the moderators' hot path."""
    # The picked row's holder is read before the update, so the audit names the real previous holder
    # (an expired claim taken over), as the SQLite path does.
    picked = (pick.with_only_columns(col(QueueItem.id), col(QueueItem.claimed_by_id))
              .with_for_update(skip_locked=True).cte("picked"))
    table = table_of(QueueItem)
    until = now + lease
    claimed = (
        sa.update(table)
        .where(table.c.id == picked.c.id)
        .values(claimed_by_id=user.id, lease_expires_at=until, updated_at=now,
                status=sa.case((table.c.status == Status.NEW.value, Status.IN_REVIEW.value), else_=table.c.status))
        .returning(*table.c)
        .cte("claimed")
    )
    detail = sa.func.json_build_object(
        "lease_expires_at", sa.literal(until.isoformat()), "previous_holder", picked.c.claimed_by_id,
        type_=sa.JSON(),
    )
    audit = sa.insert(table_of(AuditEvent)).from_select(
        ["at", "actor", "action", "entity_type", "entity_id", "detail"],
        sa.select(sa.literal(now, UTCDateTime()), sa.literal(user.name), sa.literal("queue.claim"),
                  sa.literal("queue_item"), claimed.c.id, detail).select_from(
            claimed.join(picked, picked.c.id == claimed.c.id)),
    ).cte("audit")
    stmt = sa.select(QueueItem).from_statement(sa.select(claimed).add_cte(audit))
    item: QueueItem | None = session.execute(stmt).scalars().first()
    return item


def _take(session: Session, item: QueueItem, user: User, now: datetime, lease: timedelta) -> None:
    previous = item.claimed_by_id
    item.claimed_by_id = user.id
    item.lease_expires_at = now + lease
    if item.status in OPEN_STATUSES:
        item.status = Status.IN_REVIEW
    item.updated_at = now
    session.add(item)
    record_audit(session, user.name, "queue.claim", "queue_item", item.id,
                 lease_expires_at=item.lease_expires_at.isoformat(), previous_holder=previous)


def claim(
    sessions: sessionmaker[Session], user: User, item_id: int, *, lease: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
) -> QueueItem:
    """Claim one item (or renew one's own lease); QueueError when someone else holds it or it is decided."""
    require_decider(user)
    now = now or utcnow()
    with transaction(sessions) as session:
        item = get_for_update(session, item_id)
        if item.status in FINAL_STATUSES:
            raise QueueError(f"item {item_id} is already {item.status}")
        refuse_if_held(session, item, user, now)
        _take(session, item, user, now, lease)
        return item


def release(sessions: sessionmaker[Session], user: User, item_id: int, *, now: datetime | None = None) -> QueueItem:
    """Give back one's claim (admins may release anyone's)."""
    now = now or utcnow()
    with transaction(sessions) as session:
        item = get_for_update(session, item_id)
        if item.claimed_by_id is None:
            raise QueueError(f"item {item_id} is not claimed")
        if item.claimed_by_id != user.id and user.role != Role.ADMIN:
            raise QueueError(f"item {item_id} is claimed by {_holder_name(session, item)}, not by you")
        _unclaim(item, now)
        session.add(item)
        record_audit(session, user.name, "queue.release", "queue_item", item.id)
        return item


def _unclaim(item: QueueItem, now: datetime) -> None:
    item.claimed_by_id = None
    item.lease_expires_at = None
    if item.status == Status.IN_REVIEW:
        item.status = Status.NEW
    item.updated_at = now


def expire_leases(sessions: sessionmaker[Session], *, now: datetime | None = None) -> int:
    """Return items whose lease ran out to the queue; the number of items released."""
    now = now or utcnow()
    with transaction(sessions) as session:
        stmt = select(QueueItem).where(
            QueueItem.claimed_by_id.is_not(None), QueueItem.lease_expires_at < now  # type: ignore[union-attr,operator]
        )
        items = list(session.exec(locked(session, stmt, skip_locked=True)))
        for item in items:
            holder = item.claimed_by_id
            _unclaim(item, now)
            session.add(item)
            record_audit(session, "system", "queue.lease_expired", "queue_item", item.id, holder=holder)
        return len(items)
