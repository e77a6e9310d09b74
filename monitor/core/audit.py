"""The audit log: every state change and evidence view is appended in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from monitor.core.tables import AuditEvent


def record_audit(
    session: Session, actor: str, action: str, entity_type: str, entity_id: int | None, **detail: Any
) -> AuditEvent:
    """Append an audit event in the caller's transaction (the table refuses UPDATE and DELETE)."""
    event = AuditEvent(actor=actor, action=action, entity_type=entity_type, entity_id=entity_id, detail=detail)
    session.add(event)
    return event
