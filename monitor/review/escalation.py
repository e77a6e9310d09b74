"""Alert rows: the review side only records that an item needs an immediate alert (notify/ sends it)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from monitor.core.tables import Alert, QueueItem, utcnow
from monitor.core.vocab import AlertReason


def raise_alert(
    session: Session, item: QueueItem, reason: AlertReason, *, at: datetime | None = None
) -> Alert | None:
    """Add an alert for a queue item in the caller's transaction; None when one for the same reason exists."""
    reason = AlertReason(reason)
    if item.id is None:
        session.flush()
    existing = session.exec(
        select(col(Alert.id)).where(col(Alert.queue_item_id) == item.id, col(Alert.reason) == reason)
    ).first()
    if existing is not None:
        return None
    alert = Alert(queue_item_id=item.id or 0, reason=reason, created_at=at or utcnow())
    session.add(alert)
    return alert
