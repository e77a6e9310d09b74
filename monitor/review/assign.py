"""Assigning a queue item to a moderator: who should look at it (a claim says who is looking now)."""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.audit import record_audit
from monitor.core.db import transaction
from monitor.core.errors import InputError, NotFound
from monitor.core.tables import QueueItem, User, utcnow
from monitor.core.vocab import DECIDER_ROLES


def deciders(session: Session) -> list[User]:
    """Active moderators and admins, by name (the people an item can be assigned to)."""
    return list(session.exec(select(User).where(col(User.role).in_(DECIDER_ROLES), col(User.is_active))
                             .order_by(col(User.name))))


def assign(sessions: sessionmaker[Session], actor: User, item_id: int, assignee_id: int | None) -> str | None:
    """Assign the item to a moderator or admin (None: to nobody); audited. Returns the assignee's name."""
    if actor.role not in DECIDER_ROLES:
        raise InputError("only moderators and admins assign items")
    with transaction(sessions) as session:
        item = session.get(QueueItem, item_id)
        if item is None:
            raise NotFound(f"queue item {item_id} does not exist")
        name = None
        if assignee_id is not None:
            user = session.get(User, assignee_id)
            if user is None or user.role not in DECIDER_ROLES or not user.is_active:
                raise InputError("items are assigned to active moderators or admins")
            name = user.name
        item.assigned_to_id = assignee_id
        item.updated_at = utcnow()
        session.add(item)
        record_audit(session, actor.name, "queue.assign", "queue_item", item_id, assignee=name)
    return name
