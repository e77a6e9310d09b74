"""Saved queue filters: a user names the current view and gets it back with one click."""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from monitor.core.db import transaction
from monitor.core.errors import InputError, NotFound
from monitor.core.tables import SavedFilter

MAX_PER_USER = 50


def list_saved(session: Session, user_id: int) -> list[SavedFilter]:
    """A user's saved filters, by name."""
    return list(session.exec(select(SavedFilter).where(SavedFilter.user_id == user_id)
                             .order_by(col(SavedFilter.name))))


def save_filter(sessions: sessionmaker[Session], user_id: int, name: str, query: str) -> SavedFilter:
    """Keep `query` (a queue query string) under `name`; the same name again replaces it."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise InputError("a saved filter needs a name of 1-100 characters")
    if len(query) > 2000:
        raise InputError("the filter is too long to save")
    with transaction(sessions) as session:
        saved = session.exec(select(SavedFilter).where(SavedFilter.user_id == user_id,
                                                       SavedFilter.name == name)).first()
        if saved is None:
            if len(list_saved(session, user_id)) >= MAX_PER_USER:
                raise InputError(f"at most {MAX_PER_USER} saved filters per user")
            saved = SavedFilter(user_id=user_id, name=name, query=query)
        saved.query = query
        session.add(saved)
        session.flush()
        return saved


def delete_filter(sessions: sessionmaker[Session], user_id: int, filter_id: int) -> None:
    """Delete one of the user's own saved filters (someone else's is NotFound)."""
    with transaction(sessions) as session:
        saved = session.get(SavedFilter, filter_id)
        if saved is None or saved.user_id != user_id:
            raise NotFound(f"no saved filter {filter_id}")
        session.delete(saved)
